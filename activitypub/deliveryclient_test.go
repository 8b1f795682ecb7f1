package activitypub

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter counts the connections a test server accepts.
type connCounter struct{ n atomic.Int32 }

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	if s == http.StateNew {
		c.n.Add(1)
	}
}

// deliveryTestServer answers POSTs with 202 after checking the body came
// whole, and counts connections and requests.
func deliveryTestServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *connCounter) {
	t.Helper()
	conns := &connCounter{}
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ConnState = conns.hook
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

func post(t *testing.T, c *DeliveryClient, ctx context.Context, url string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ContentType)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, got, err
}

func TestDeliveryClient(t *testing.T) {
	body := []byte(strings.Repeat("activity ", 200))
	var requests atomic.Int32
	check := func(w http.ResponseWriter, r *http.Request) bool {
		requests.Add(1)
		got, _ := io.ReadAll(r.Body)
		if !bytes.Equal(got, body) || r.Header.Get("Content-Type") != ContentType || r.ContentLength != int64(len(body)) {
			http.Error(w, "body or headers mangled", http.StatusBadRequest)
			return false
		}
		return true
	}
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		requests  int
		wantConns int32
		wantBody  string
		status    int
	}{
		{"KeepAlive", func(w http.ResponseWriter, r *http.Request) {
			if check(w, r) {
				w.WriteHeader(http.StatusAccepted)
			}
		}, 5, 1, "", http.StatusAccepted},
		{"ConnectionClose", func(w http.ResponseWriter, r *http.Request) {
			if check(w, r) {
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}, 3, 3, "", http.StatusServiceUnavailable},
		{"ChunkedBody", func(w http.ResponseWriter, r *http.Request) {
			if check(w, r) {
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, "part one, ")
				w.(http.Flusher).Flush()
				io.WriteString(w, "part two")
			}
		}, 3, 1, "part one, part two", http.StatusOK},
		{"EarlyHints", func(w http.ResponseWriter, r *http.Request) {
			if check(w, r) {
				w.Header().Set("Link", "</style.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusAccepted)
			}
		}, 2, 1, "", http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requests.Store(0)
			srv, conns := deliveryTestServer(t, tt.handler)
			c := NewDeliveryClient(5*time.Second, true)
			defer c.CloseIdleConnections()
			for range tt.requests {
				resp, got, err := post(t, c, t.Context(), srv.URL+"/inbox", body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.status || string(got) != tt.wantBody {
					t.Fatalf("got %d %q, want %d %q", resp.StatusCode, got, tt.status, tt.wantBody)
				}
			}
			if n := requests.Load(); n != int32(tt.requests) {
				t.Errorf("server saw %d requests, want %d", n, tt.requests)
			}
			if n := conns.n.Load(); n != tt.wantConns {
				t.Errorf("%d connections, want %d", n, tt.wantConns)
			}
		})
	}
}

// A kept-alive connection the remote closed while it was idle: the request
// goes again on a new connection, and arrives once.
func TestDeliveryClient_StaleConnection(t *testing.T) {
	var requests atomic.Int32
	var mu sync.Mutex
	var last net.Conn
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
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
	if _, _, err := post(t, c, t.Context(), srv.URL, []byte("one")); err != nil {
		t.Fatal(err)
	}
	// The server drops the idle connection behind the client's back.
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	last.Close()
	mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	resp, _, err := post(t, c, t.Context(), srv.URL, []byte("two"))
	if err != nil {
		t.Fatalf("second request on a stale connection: %v", err)
	}
	if resp.StatusCode != http.StatusAccepted || requests.Load() != 2 {
		t.Errorf("status %d after %d requests, want 202 after 2", resp.StatusCode, requests.Load())
	}
}

func TestDeliveryClient_Errors(t *testing.T) {
	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-hang
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(hang) }) // runs first: Close waits for handlers
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return "http://" + ln.Addr().String() + "/inbox"
	}()

	tests := []struct {
		name         string
		url          string
		allowPrivate bool
		ctx          func() (context.Context, context.CancelFunc)
		want         func(error) bool
	}{
		{"Timeout", hanging.URL, true, nil, func(err error) bool {
			var ne net.Error
			return errors.As(err, &ne) && ne.Timeout()
		}},
		{"Cancelled", hanging.URL, true, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
		{"Refused", refused, true, nil, func(err error) bool {
			var oe *net.OpError
			return errors.As(err, &oe) && oe.Op == "dial"
		}},
		{"PrivateAddress", hanging.URL, false, nil, func(err error) bool { return errors.Is(err, ErrPrivateAddress) }},
		{"Scheme", "ftp://127.0.0.1/inbox", true, nil, func(err error) bool { return strings.Contains(err.Error(), "unsupported URL") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewDeliveryClient(300*time.Millisecond, tt.allowPrivate)
			ctx, cancel := context.WithCancel(context.Background())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			start := time.Now()
			_, _, err := post(t, c, ctx, tt.url, []byte("x"))
			if err == nil || !tt.want(err) {
				t.Fatalf("err = %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

// A body closed before its end takes its connection with it; one read to
// the end leaves it for the next request.
func TestDeliveryClient_BodyNotRead(t *testing.T) {
	srv, conns := deliveryTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, strings.Repeat("long answer ", 1000))
	})
	c := NewDeliveryClient(5*time.Second, true)
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Read(make([]byte, 10))
		resp.Body.Close()
	}
	if n := conns.n.Load(); n != 2 {
		t.Errorf("%d connections for two early-closed bodies, want 2", n)
	}
}

// Idle connections are closed after the idle timeout, and a later request
// dials again.
func TestDeliveryClient_IdleTimeout(t *testing.T) {
	srv, conns := deliveryTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	c := NewDeliveryClient(5*time.Second, true)
	c.idleTimeout = 30 * time.Millisecond
	if _, _, err := post(t, c, t.Context(), srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.idle)
		c.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle connection never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, err := post(t, c, t.Context(), srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	if n := conns.n.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestDeliveryClient_TLS(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.TLS == nil || r.ProtoMajor != 1 {
			http.Error(w, "want HTTP/1.1 over TLS", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	srv.EnableHTTP2 = true // the client must still choose HTTP/1.1
	conns := &connCounter{}
	srv.Config.ConnState = conns.hook
	srv.StartTLS()
	defer srv.Close()

	c := NewDeliveryClient(5*time.Second, true)
	// Unknown authority first: a TLS error, which fanout retries sparingly.
	_, _, err := post(t, c, t.Context(), srv.URL, []byte("x"))
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) {
		t.Fatalf("untrusted certificate: err = %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c.tls.RootCAs = pool
	for range 3 {
		resp, _, err := post(t, c, t.Context(), srv.URL, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := conns.n.Load(); n != 2 { // the refused handshake, then one kept alive
		t.Errorf("%d connections, want 2", n)
	}
}

// BenchmarkDeliveryClient is one POST of a delivery-sized body and its 202,
// 64 at a time over kept-alive loopback connections, through
// DeliveryClient and through net/http's client. The test server runs in
// the same process, so both figures include its (identical) cost.
func BenchmarkDeliveryClient(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	body := []byte(strings.Repeat("x", 1500))
	for _, bb := range []struct {
		name   string
		client Doer
	}{
		{"DeliveryClient", NewDeliveryClient(10*time.Second, true)},
		{"net-http", NewHTTPClient(10*time.Second, true)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetParallelism(32) // 64 on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, srv.URL+"/inbox", bytes.NewReader(body))
					req.Header.Set("Content-Type", ContentType)
					resp, err := bb.client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
