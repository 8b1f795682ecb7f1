package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/starling-social/starling/store/postgres/pgtest"
)

// tcpProxy stands between Starling and PostgreSQL, so a test can cut the
// database off (refusing and dropping connections, as when it restarts
// or the network fails) and bring it back.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, up: true}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			up := p.up
			p.mu.Unlock()
			if !up {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

// cut drops every connection and refuses new ones.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = false
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.up = true
	p.mu.Unlock()
}

// TestStoreOutage: while PostgreSQL cannot be reached, /healthz says so
// (503) within seconds and the API answers 503 with Retry-After instead
// of 500 or hanging; when it is back, the same process serves again with
// no restart.
func TestStoreOutage(t *testing.T) {
	dsn := pgtest.NewDatabaseURL(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	a := startInstance(t, "A", func(c *Config) { c.DatabaseURL = u.String() })
	alice := a.user("alice")
	health := func() (int, string) {
		resp, err := a.client.Get(a.base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := health(); code != http.StatusOK {
		t.Fatalf("healthz before: %d %s", code, body)
	}

	proxy.cut()
	start := time.Now()
	waitFor(t, 10*time.Second, "healthz to report the store unreachable", func() bool {
		code, body := health()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "store")
	})
	t.Logf("healthz unavailable after %s", time.Since(start).Round(time.Millisecond))
	for _, c := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/api/v1/timelines/public", nil},
		{"POST", "/api/v1/statuses", url.Values{"status": {"during the outage"}}},
		{"GET", "/api/v1/accounts/verify_credentials", nil},
	} {
		begin := time.Now()
		code, hdr, body := a.raw(c.method, c.path, alice, c.form)
		if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s %s during the outage: %d Retry-After %q %s", c.method, c.path, code, hdr.Get("Retry-After"), body)
		}
		if d := time.Since(begin); d > 8*time.Second {
			t.Errorf("%s %s took %s to answer", c.method, c.path, d)
		}
	}

	proxy.restore()
	waitFor(t, 15*time.Second, "healthz ready again", func() bool { code, _ := health(); return code == http.StatusOK })
	st := a.post(alice, "after the outage")
	if a.home(alice, st.URI) == 0 {
		waitFor(t, 10*time.Second, "the post in alice's home", func() bool { return a.home(alice, st.URI) > 0 })
	}
}
