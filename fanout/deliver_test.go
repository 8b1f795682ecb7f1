package fanout

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/signature"
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

// keyStore is a DeliveryStore that knows one activity and its actor's
// keys; the rest is not called.
type keyStore struct {
	DeliveryStore
	keys  starling.SigningKeys
	reads int
}

func (s *keyStore) ActivityByID(_ context.Context, id int64) (*starling.Activity, error) {
	return &starling.Activity{ID: id, Type: "Create", Payload: []byte(`{}`)}, nil
}

func (s *keyStore) FailingHosts(context.Context) ([]starling.HostHealth, error) { return nil, nil }

func (s *keyStore) SigningKeys(context.Context, int64) (starling.SigningKeys, error) {
	s.reads++
	return s.keys, nil
}

// A cached activity signs with the keys read when it was loaded until
// keyRefresh has passed, then with what the store holds: a rotated key
// reaches deliveries (and retries) of activities already under way.
func TestRefreshKeys(t *testing.T) {
	pemOf := func() (string, ed25519.PrivateKey) {
		_, priv, err := signature.GenerateEd25519Key()
		if err != nil {
			t.Fatal(err)
		}
		k, err := signature.ParsePrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return priv, k.(ed25519.PrivateKey)
	}
	_, rsaPEM, err := signature.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	oldPEM, oldKey := pemOf()
	store := &keyStore{keys: starling.SigningKeys{KeyID: "a#main-key", PEM: rsaPEM, Ed25519KeyID: "a/ed25519-key", Ed25519PEM: oldPEM}}
	now := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	d := &Deliverer{Store: store, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	act, err := d.activity(t.Context(), 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	newPEM, newKey := pemOf()
	store.keys.Ed25519PEM = newPEM // rotated in another process
	for _, step := range []struct {
		after time.Duration
		want  ed25519.PrivateKey
		reads int
	}{
		{keyRefresh / 2, oldKey, 1},
		{keyRefresh + time.Second, newKey, 2},
		{keyRefresh + 2*time.Second, newKey, 2}, // read again only a keyRefresh later
	} {
		now = time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC).Add(step.after)
		d.refreshKeys(t.Context(), act, 7)
		got := act.keys.Load().Ed25519.(ed25519.PrivateKey)
		if !got.Equal(step.want) || store.reads != step.reads {
			t.Errorf("after %s: new key %v, %d reads; want new key %v, %d reads",
				step.after, got.Equal(newKey), store.reads, step.want.Equal(newKey), step.reads)
		}
	}
}
