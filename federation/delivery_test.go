package federation

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func deliveryPost(t *testing.T, c Doer, ctx context.Context, url string, body []byte) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	MarkIdempotent(req)
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

// A kept-alive connection the remote closed while it was idle: a request
// marked idempotent goes again on a new connection, arrives once, and the
// marker that allows it is not sent; one not marked fails rather than
// risk arriving twice.
func TestNewDeliveryClient_StaleConnection(t *testing.T) {
	for _, marked := range []bool{true, false} {
		t.Run(map[bool]string{true: "marked", false: "unmarked"}[marked], func(t *testing.T) {
			var requests atomic.Int32
			var mu sync.Mutex
			var last net.Conn
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if _, ok := r.Header["Idempotency-Key"]; ok {
					t.Error("Idempotency-Key sent")
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
				if s == http.StateIdle {
					mu.Lock()
					last = c
					mu.Unlock()
				}
			}
			srv.Start()
			defer srv.Close()
			c := NewDeliveryClient(5*time.Second, true)
			post := func(body string) (*http.Response, error) {
				if marked {
					return deliveryPost(t, c, t.Context(), srv.URL, []byte(body))
				}
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(body))
				resp, err := c.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				return resp, err
			}
			if _, err := post("one"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			last.Close()
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			resp, err := post("two")
			switch {
			case marked && err != nil:
				t.Fatalf("second request on a stale connection: %v", err)
			case marked && (resp.StatusCode != http.StatusAccepted || requests.Load() != 2):
				t.Errorf("status %d after %d requests, want 202 after 2", resp.StatusCode, requests.Load())
			case !marked && (err == nil || requests.Load() != 1):
				t.Errorf("unmarked POST on a closed connection: err %v after %d requests; want an error after 1", err, requests.Load())
			}
		})
	}
}

// A signature names its target: a redirect is the answer, not followed.
func TestNewDeliveryClient_NoRedirects(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	resp, err := deliveryPost(t, NewDeliveryClient(5*time.Second, true), t.Context(), srv.URL+"/inbox", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusTemporaryRedirect || hits.Load() != 1 {
		t.Errorf("status %d after %d requests, want 307 after 1", resp.StatusCode, hits.Load())
	}
}

func TestNewDeliveryClient_Errors(t *testing.T) {
	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-hang
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(hang) }) // runs first: Close waits for handlers
	tests := []struct {
		name         string
		allowPrivate bool
		want         func(error) bool
	}{
		{"Timeout", true, func(err error) bool {
			var ne net.Error
			return errors.As(err, &ne) && ne.Timeout()
		}},
		{"PrivateAddress", false, func(err error) bool { return errors.Is(err, ErrPrivateAddress) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewDeliveryClient(300*time.Millisecond, tt.allowPrivate)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, err := deliveryPost(t, c, ctx, hanging.URL, []byte("x"))
			if err == nil || !tt.want(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
