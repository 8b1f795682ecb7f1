package federation

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter counts the connections a test server accepted.
func connCounter(srv *httptest.Server) *atomic.Int32 {
	var n atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

// Which answers leave the connection for the next delivery, and which
// close it: the same server answers three requests in a row each time.
func TestDeliveryClient_Reuse(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		readBody  bool // read the body to its end before closing it
		wantConns int32
	}{
		{"empty answers", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
		}, false, 1},
		{"small body read", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"ok":true}`)
		}, true, 1},
		{"small body left unread", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"ok":true}`)
		}, false, 1},
		{"chunked body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "one")
			w.(http.Flusher).Flush()
			io.WriteString(w, "two")
		}, true, 1},
		{"Connection: close", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, true, 3},
		{"large body left unread", func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, 1<<20))
		}, false, 3},
		{"100 Continue first", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusContinue)
			w.WriteHeader(http.StatusAccepted)
		}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bodies []string
			var mu sync.Mutex
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				mu.Unlock()
				tt.handler(w, r)
			}))
			conns := connCounter(srv)
			srv.Start()
			defer srv.Close()
			c := NewDeliveryClient(5*time.Second, true)
			defer c.CloseIdleConnections()
			for i := range 3 {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/inbox", strings.NewReader("activity"))
				MarkIdempotent(req)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if tt.readBody {
					io.ReadAll(resp.Body)
				}
				resp.Body.Close()
			}
			if got := conns.Load(); got != tt.wantConns {
				t.Errorf("%d connections for 3 requests, want %d", got, tt.wantConns)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) != 3 || bodies[2] != "activity" {
				t.Errorf("server got bodies %q, want three of %q", bodies, "activity")
			}
		})
	}
}

// Over TLS: HTTP/1.1 even where the server offers HTTP/2, the host's name
// checked against its certificate, the connection kept, and a new
// connection (the server closed the last one) resumes the TLS session.
func TestDeliveryClient_TLS(t *testing.T) {
	var resumed []bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 1 {
			t.Errorf("protocol %s, want HTTP/1.1", r.Proto)
		}
		resumed = append(resumed, r.TLS.DidResume)
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	srv.EnableHTTP2 = true
	conns := connCounter(srv)
	srv.StartTLS()
	defer srv.Close()

	c := NewDeliveryClient(5*time.Second, true)
	c.tlsConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	for _, path := range []string{"/inbox", "/close", "/inbox"} {
		resp, err := deliveryPost(t, c, t.Context(), srv.URL+path, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	if want := []bool{false, false, true}; !slices.Equal(resumed, want) {
		t.Errorf("requests on resumed sessions: %v, want %v", resumed, want)
	}

	// An unknown certificate is a TLS error, which the deliverer moves
	// through the retry schedule faster.
	_, err := deliveryPost(t, NewDeliveryClient(5*time.Second, true), t.Context(), srv.URL+"/inbox", []byte("x"))
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) {
		t.Errorf("err = %v, want a certificate verification error", err)
	}
}

// Cancelling the context ends a request that waits for its answer at once,
// with the context's error.
func TestDeliveryClient_Cancel(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) })
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := deliveryPost(t, NewDeliveryClient(time.Minute, true), ctx, srv.URL, []byte("x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// An idle connection is closed once it has been idle for the idle timeout.
func TestDeliveryClient_IdleTimeout(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	closed := make(chan struct{}, 1)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	c := NewDeliveryClient(5*time.Second, true)
	c.idleTimeout = 50 * time.Millisecond
	if _, err := deliveryPost(t, c, t.Context(), srv.URL, []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("idle connection still open after 5 s")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle) != 0 {
		t.Errorf("%d hosts with idle connections left", len(c.idle))
	}
}

func TestAsciiHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mastodon.social", "mastodon.social"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"127.0.0.1", "127.0.0.1"},
		{"::1", "::1"},
	}
	for _, tt := range tests {
		if got := asciiHost(tt.in); got != tt.want {
			t.Errorf("asciiHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Without a timeout of its own (0), an attempt still ends when the answer's
// header does not come within the header timeout.
func TestDeliveryClient_HeaderTimeout(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) })
	c := NewDeliveryClient(0, true)
	c.headerTimeout = 100 * time.Millisecond
	_, err := deliveryPost(t, c, t.Context(), srv.URL, []byte("x"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}
