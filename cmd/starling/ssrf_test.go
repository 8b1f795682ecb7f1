package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/starling-social/starling"
)

// TestSSRFRefused: a server run as in production (private addresses not
// allowed) receives activities signed with keys "hosted" on loopback,
// private, carrier-grade NAT, link-local (cloud metadata) and IPv6
// loopback addresses. Each is refused (401) without a connection being
// made: the dial guard refuses the address before connecting, so even an
// unroutable one answers at once instead of after the fetch timeout.
func TestSSRFRefused(t *testing.T) {
	var hits atomic.Int64
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "should never be asked", http.StatusTeapot)
	}))
	defer trap.Close()
	a := startInstance(t, "A", func(c *Config) { c.AllowPrivateAddresses = false })
	a.user("alice")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// "localhost:PORT" is a name that resolves to loopback: the guard
	// checks the address dialled, not the name.
	viaName := fmt.Sprintf("localhost:%d", trap.Listener.Addr().(*net.TCPAddr).Port)
	for _, host := range []string{trap.Listener.Addr().String(), viaName, "10.0.0.1", "172.16.5.4", "192.168.1.1",
		"100.64.0.1", "169.254.169.254", "[::1]:8080", "0.0.0.0", "[::ffff:127.0.0.1]"} {
		t.Run(host, func(t *testing.T) {
			actor := "http://" + host + "/users/evil"
			body := fmt.Appendf(nil, `{"@context":"https://www.w3.org/ns/activitystreams","id":"%s/follows/1","type":"Follow","actor":"%s","object":"%s/users/alice"}`,
				actor, actor, a.base)
			req := signedPost(t, a.base+"/inbox", actor+"#main-key", key, body, time.Now())
			start := time.Now()
			resp, err := a.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("activity signed by a key on %s: %d, want 401", host, resp.StatusCode)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refusing the key on %s took %s: the guard should refuse before connecting", host, d)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback key server was asked %d times", n)
	}

	// The other way: followers whose stored inboxes are on such addresses
	// (or a name resolving to loopback) get no connection: each delivery
	// is given up at once as refused_address, not retried for days.
	t.Run("inboxes", func(t *testing.T) {
		ctx := context.Background()
		alice := must(a.srv.Store.AccountByAcct(ctx, "alice", ""))
		inboxes := []string{trap.URL + "/inbox", "http://" + viaName + "/inbox", "http://10.0.0.1/inbox",
			"http://169.254.169.254/inbox", "http://100.64.0.1/inbox", "http://[::1]:8080/inbox"}
		for i, inbox := range inboxes {
			f := &starling.Account{Username: "f", Domain: fmt.Sprintf("f%d.example", i), PublicKeyPEM: "public",
				URI: fmt.Sprintf("https://f%d.example/users/f", i), InboxURL: inbox}
			f.KeyID = f.URI + "#main-key"
			f = must(a.srv.Store.UpsertRemoteAccount(ctx, f))
			must(a.srv.Store.UpsertRemoteFollow(ctx, &starling.Follow{ID: starling.NewID(time.Now()), FollowerID: f.ID, FolloweeID: alice.ID, URI: f.URI + "/follow", Accepted: true}))
		}
		token := must(adminOf(a).CreateToken(ctx, "alice", "write"))
		a.mustCall("POST", "/api/v1/statuses", token, url.Values{"status": {"to private inboxes"}}, nil)
		waitFor(t, 20*time.Second, "every delivery refused", func() bool {
			return a.metric(`starling_delivery_failures_total{class="refused_address"}`) >= len(inboxes)
		})
		if n := hits.Load(); n != 0 {
			t.Errorf("the loopback inbox was asked %d times", n)
		}
	})
}
