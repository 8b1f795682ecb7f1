package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
)

// TestNATSRestart crashes the NATS server Starling uses (SIGKILL) while
// posts fan out to 50 servers and a remote's posts come into the inbox,
// and starts it again on the same port and store.
func TestNATSRestart(t *testing.T) {
	node := startNATSNode(t)
	survivesRestart(t, "NATS", func(c *Config) { c.NATSURL = node.URL() }, node.kill, node.start)
}

// TestPostgresRestart crashes Starling's PostgreSQL (stop -m immediate)
// while posts fan out and a remote's posts come into the inbox, and
// starts it again on the same port and data.
func TestPostgresRestart(t *testing.T) {
	if os.Getenv("STARLING_TEST_STORE") == "embedded" {
		t.Skip("restarts a PostgreSQL server; the embedded store is a file in the process")
	}
	pg := startPrivatePostgres(t)
	survivesRestart(t, "PostgreSQL", func(c *Config) { c.DatabaseURL = pg.URL("starling") }, pg.crash, pg.start)
}

// survivesRestart runs instance A on an engine that down stops and up
// starts again, with posts of A's alice fanning out to a fleet of 50
// servers and to carol on A, and posts of bob on instance B coming into
// A's inbox for carol, when the engine goes down. While it is down, A's
// readiness is false and a post is answered 503 with Retry-After (or
// taken, durably: such posts must arrive too). Once it is back, without
// a restart of A: every post taken reaches every server (at least once),
// carol's home holds each of them exactly once, A stores each of bob's
// activities once, and no post is stored twice.
func survivesRestart(t *testing.T, engine string, engineOpt func(*Config), down, up func()) {
	const hosts, before = 50, 5
	began := time.Now()
	lap := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	// Retries outlast the outage, and a refusal's Retry-After (30 s).
	retries := func(c *Config) { c.DeliveryRetrySchedule = "1s,2s,2s,5s,5s,10s,10s,10s,10s,10s,10s,10s" }
	a := startInstance(t, "A", engineOpt, retries)
	b := startInstance(t, "B", retries)
	alice, carol, bob := a.user("alice"), a.user("carol"), b.user("bob")
	var me api.Account
	a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
	a.follow(carol, me.ID)
	a.follow(carol, a.resolve(carol, "bob@"+b.cfg.Domain))

	fleet := slowFleet(t, hosts, 200*time.Millisecond) // keep deliveries in flight
	ctx := context.Background()
	if err := FollowFrom(ctx, a.srv.Store, must(a.srv.Store.AccountByAcct(ctx, "alice", "")), fleet.Hosts, 1); err != nil {
		t.Fatal(err)
	}
	lap("A and B up; carol follows alice and bob; 50 servers follow alice")

	var taken []api.Status // alice's posts A answered 200
	var bobs []api.Status
	for i := range before {
		taken = append(taken, a.post(alice, fmt.Sprintf("before the outage %d", i)))
	}
	reached := func(st api.Status) (n, dup int) {
		for _, h := range fleet.Hosts {
			if got := len(h.Received(st.URI + "/activity")); got > 0 {
				n++
				dup += got - 1
			}
		}
		return n, dup
	}
	total := func() (n int) {
		for _, st := range taken {
			r, _ := reached(st)
			n += r
		}
		return n
	}
	waitFor(t, 30*time.Second, "deliveries to be under way", func() bool { return total() >= 20 })
	// bob's posts are on their way to A's inbox, or being processed
	// there, when the engine goes down.
	for i := range before {
		bobs = append(bobs, b.post(bob, fmt.Sprintf("bob before the outage %d", i)))
	}
	down()
	downAt := time.Now()
	atDown := total()
	lap(fmt.Sprintf("%s down with %d of %d deliveries made", engine, atDown, hosts*before))
	if atDown == hosts*before {
		t.Fatalf("every delivery was made before %s went down; the test proves nothing", engine)
	}

	probe := func(path string) (int, string) {
		resp, err := a.client.Get(a.base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	waitFor(t, 30*time.Second, "readiness to be false", func() bool {
		c1, _ := probe("/readyz")
		c2, _ := probe("/healthz")
		return c1 == http.StatusServiceUnavailable && c2 == http.StatusServiceUnavailable
	})
	_, why := probe("/readyz")
	lap("not ready: " + why)
	// Posts are refused with 503 and Retry-After, soon if not at once; one
	// taken meanwhile is durable and must arrive like the others.
	refused := 0
	waitFor(t, 30*time.Second, "a post answered 503 with Retry-After", func() bool {
		code, hdr, body := a.raw("POST", "/api/v1/statuses", alice, url.Values{"status": {"during the outage"}})
		switch {
		case code == http.StatusOK:
			var st api.Status
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatalf("post during the outage: %v", err)
			}
			taken = append(taken, st)
			time.Sleep(100 * time.Millisecond) // a client trying again, not a flood
		case code == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "":
			refused++
			return true
		default:
			t.Fatalf("post during the outage: %d (Retry-After %q) %s", code, hdr.Get("Retry-After"), body)
		}
		return false
	})
	// bob's post comes to A's inbox while the engine is down: refused
	// for now, and sent again by B.
	bobs = append(bobs, b.post(bob, "bob during the outage"))
	during := bobs[len(bobs)-1].URI + "/activity"
	waitFor(t, 30*time.Second, "A's inbox to answer bob's post", func() bool { return len(a.inbox.answered(during)) > 0 })
	if got := a.inbox.answered(during); got[0].Status != http.StatusServiceUnavailable || got[0].RetryAfter == "" {
		t.Errorf("A's inbox answered bob's post during the outage with %+v, want 503 with Retry-After first", got)
	}
	lap(fmt.Sprintf("during the outage: %d posts taken before the refusal, then 503 with Retry-After", len(taken)-before))

	// Down long enough for every client to have given up its connections
	// and retried a few times.
	time.Sleep(time.Until(downAt.Add(5 * time.Second)))
	up()
	waitFor(t, time.Minute, "readiness again, without a restart of A", func() bool { c, _ := probe("/readyz"); return c == http.StatusOK })
	lap(engine + " back; A ready")
	waitFor(t, 30*time.Second, "a post to be taken again", func() bool {
		code, _, body := a.raw("POST", "/api/v1/statuses", alice, url.Values{"status": {"after the outage"}})
		if code != http.StatusOK {
			return false
		}
		var st api.Status
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		taken = append(taken, st)
		return true
	})

	waitFor(t, 2*time.Minute, "every post taken to reach every server", func() bool { return total() == hosts*len(taken) })
	dups := 0
	for _, st := range taken {
		_, d := reached(st)
		dups += d
	}
	lap(fmt.Sprintf("%d posts reached all %d servers (%d repeated deliveries; at least once is the contract)", len(taken), hosts, dups))

	// The whole feed, page by page: under load more than a page of posts
	// may be taken before the refusal.
	var home map[string]int
	waitFor(t, 2*time.Minute, "every post in carol's home", func() bool {
		home = a.homeCounts(carol)
		for _, st := range append(append([]api.Status{}, taken...), bobs...) {
			if home[st.URI] == 0 {
				return false
			}
		}
		return true
	})
	for _, st := range taken {
		if n := home[st.URI]; n != 1 {
			t.Errorf("carol's home holds alice's %q %d times, want 1", st.Content, n)
		}
	}
	for _, st := range bobs {
		if n := home[st.URI]; n != 1 {
			t.Errorf("carol's home holds bob's %q %d times, want 1", st.Content, n)
		}
		if n, err := a.srv.Store.CountInboxActivities(ctx, st.URI+"/activity"); err != nil || n != 1 {
			t.Errorf("A stored bob's %q %d times (%v), want 1", st.Content, n, err)
		}
	}
	var mine []api.Status
	a.mustCall("GET", "/api/v1/accounts/"+me.ID+"/statuses?limit=40", alice, nil, &mine)
	if len(mine) != len(taken) {
		t.Errorf("alice has %d statuses, want the %d posts taken (%d refused)", len(mine), len(taken), refused)
	}
	lap("carol's home holds every post once")
}
