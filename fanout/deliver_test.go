package fanout

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/starling-social/starling/federation"
)

func TestClassifyStatus(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		code       int
		retryAfter string
		wantClass  string
		permanent  bool
		wantAfter  time.Duration
	}{
		{202, "", "", false, 0},
		{200, "", "", false, 0},
		{400, "", "http_4xx", true, 0},
		{401, "", "http_401", false, 0},
		{404, "", "http_4xx", true, 0},
		{301, "", "http_3xx", true, 0},
		{308, "", "http_3xx", true, 0},
		{410, "", "gone", true, 0},
		{408, "", "http_408", false, 0},
		{429, "120", "http_429", false, 2 * time.Minute},
		{429, "", "http_429", false, 0},
		{503, now.Add(time.Hour).Format(http.TimeFormat), "http_5xx", false, time.Hour},
		{503, "999999", "http_5xx", false, 24 * time.Hour}, // capped
		{500, "", "http_5xx", false, 0},
		{502, "soon", "http_5xx", false, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.code, tt.retryAfter), func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.code, Header: http.Header{}}
			if tt.retryAfter != "" {
				resp.Header.Set("Retry-After", tt.retryAfter)
			}
			e := classifyStatus(resp, now)
			if tt.wantClass == "" {
				if e != nil {
					t.Fatalf("got %v, want success", e)
				}
				return
			}
			if e == nil || e.class != tt.wantClass || e.permanent != tt.permanent || e.retryAfter != tt.wantAfter {
				t.Errorf("got %+v, want class %s permanent %v retryAfter %s", e, tt.wantClass, tt.permanent, tt.wantAfter)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyTransport(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		class     string
		permanent bool
		step      int
	}{
		{"refused address", fmt.Errorf("dial: %w", federation.ErrPrivateAddress), "refused_address", true, 1},
		{"dns", &net.DNSError{Err: "no such host", Name: "gone.example", IsNotFound: true}, "dns", false, 3},
		{"tls", &tls.CertificateVerificationError{Err: errors.New("expired")}, "tls", false, 3},
		{"timeout", &net.OpError{Op: "dial", Err: timeoutErr{}}, "timeout", false, 1},
		{"reset", errors.New("connection reset by peer"), "connection", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classifyTransport(tt.err)
			if e.class != tt.class || e.permanent != tt.permanent || e.step != tt.step {
				t.Errorf("got class %s permanent %v step %d, want %s %v %d", e.class, e.permanent, e.step, tt.class, tt.permanent, tt.step)
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		in      string
		want    []time.Duration
		wantErr bool
	}{
		{"30s,1m, 5m", []time.Duration{30 * time.Second, time.Minute, 5 * time.Minute}, false},
		{"", nil, true},
		{"1m,soon", nil, true},
		{"-1s", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseSchedule(tt.in)
		if (err != nil) != tt.wantErr || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseSchedule(%q) = %v, %v", tt.in, got, err)
		}
	}
	var total time.Duration
	for _, d := range DefaultSchedule() {
		total += d
	}
	if n := len(DefaultSchedule()) + 1; n != 16 || total < 48*time.Hour || total > 75*time.Hour {
		t.Errorf("default schedule: %d attempts over %s, want 16 over 50-75 h as Mastodon", n, total)
	}
}
