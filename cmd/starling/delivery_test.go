package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/fanout"
)

// deliveryRig is one Starling with alice, and a simulated fleet whose
// accounts follow her.
type deliveryRig struct {
	t     *testing.T
	in    *instance
	alice string // token
	acct  *starling.Account
	fleet *Fleet
}

func newDeliveryRig(t *testing.T, hosts int, opts ...func(*Config)) *deliveryRig {
	t.Helper()
	r := &deliveryRig{t: t, in: startInstance(t, "A", opts...)}
	r.alice = r.in.user("alice")
	r.acct = must(r.in.srv.Store.AccountByAcct(context.Background(), "alice", ""))
	r.fleet = slowFleet(t, hosts, 0)
	return r
}

// slowFleet starts hosts simulated remote servers, closed with the test,
// each taking delay to answer (deliveries stay in flight that long).
func slowFleet(t testing.TB, hosts int, delay time.Duration) *Fleet {
	t.Helper()
	fleet, err := NewFleet(hosts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	if delay > 0 {
		for _, h := range fleet.Hosts {
			h.Set(Behaviour{Delay: delay})
		}
	}
	return fleet
}

func (r *deliveryRig) follow(hosts []*FleetHost, perHost int) {
	r.t.Helper()
	if err := FollowFrom(context.Background(), r.in.srv.Store, r.acct, hosts, perHost); err != nil {
		r.t.Fatal(err)
	}
}

// post publishes a status and returns its Create's id.
func (r *deliveryRig) post(text string) string {
	r.t.Helper()
	var st api.Status
	r.in.mustCall("POST", "/api/v1/statuses", r.alice, url.Values{"status": {text}}, &st)
	return st.URI + "/activity"
}

func TestDeliveryRetryRebuildsBodyAfterClosedConnection(t *testing.T) {
	r := newDeliveryRig(t, 1)
	h := r.fleet.Hosts[0]
	h.Set(Behaviour{Status: http.StatusServiceUnavailable, CloseConn: true, FailFirst: 3})
	r.follow(r.fleet.Hosts, 1)
	create := r.post("third time lucky")
	waitFor(t, 20*time.Second, "the fourth attempt to succeed", func() bool { return len(h.Received(create)) == 1 })
	requests, rejected := h.Counts()
	if requests != 4 || rejected != 0 {
		t.Errorf("host saw %d requests, %d failing signature or digest checks; want 4 and 0", requests, rejected)
	}
}

func TestDeliveryHonoursRetryAfter(t *testing.T) {
	r := newDeliveryRig(t, 1)
	h := r.fleet.Hosts[0]
	h.Set(Behaviour{Status: http.StatusTooManyRequests, RetryAfter: "2", FailFirst: 1})
	r.follow(r.fleet.Hosts, 1)
	create := r.post("patience")
	waitFor(t, 20*time.Second, "the retry to succeed", func() bool { return len(h.Received(create)) == 1 })
	at := h.Attempts()
	if len(at) != 2 {
		t.Fatalf("host saw %d attempts, want 2", len(at))
	}
	// The schedule says 200ms; the host said 2s.
	if gap := at[1].Sub(at[0]); gap < 2*time.Second {
		t.Errorf("retried after %s, before the host's Retry-After of 2s", gap)
	}
}

func TestDeliveryDeadLetterAndReplay(t *testing.T) {
	r := newDeliveryRig(t, 1)
	h := r.fleet.Hosts[0]
	h.Set(Behaviour{Status: http.StatusBadRequest})
	r.follow(r.fleet.Hosts, 1)
	create := r.post("not wanted, yet")
	ctx := context.Background()
	db := r.in.srv.Store
	var dead []starling.DeadLetter
	waitFor(t, 10*time.Second, "a dead letter", func() bool {
		dead = must(db.DeadLetters(ctx, starling.DeadLetterFilter{Host: h.Addr}))
		return len(dead) == 1
	})
	time.Sleep(time.Second) // room for a retry that must not happen
	// One attempt: draft-cavage, then (double-knocking) RFC 9421 once.
	if requests, _ := h.Counts(); requests != 2 {
		t.Errorf("a 400 was tried with %d requests, want one attempt of two knocks", requests)
	}
	if d := dead[0]; d.Attempts != 1 || d.Inbox != h.SharedInbox() || d.LastError != "status 400" {
		t.Errorf("dead letter %+v", d)
	}

	h.Set(Behaviour{}) // the host recovers
	n, err := fanout.ReplayDeadLetters(ctx, db, r.in.srv.Topology, starling.DeadLetterFilter{Host: h.Addr})
	if err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	waitFor(t, 10*time.Second, "the replayed delivery", func() bool { return len(h.Received(create)) == 1 })
	if again := must(db.DeadLetters(ctx, starling.DeadLetterFilter{Host: h.Addr})); len(again) != 0 {
		t.Errorf("%d dead letters still pending after replay", len(again))
	}
}

func TestDeliveryBreakerOpensAndCloses(t *testing.T) {
	r := newDeliveryRig(t, 1, func(c *Config) {
		c.DeliveryRetrySchedule = "100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms"
		c.DeliveryBreakerFails = 3
		c.DeliveryBreakerTimeout = time.Second
	})
	h := r.fleet.Hosts[0]
	h.Set(Behaviour{Status: http.StatusInternalServerError})
	r.follow(r.fleet.Hosts, 1)
	create := r.post("knock knock")
	dl := r.in.srv.Deliverer
	waitFor(t, 10*time.Second, "the breaker to open", func() bool { return dl.BreakerState(h.Addr) == "open" })
	opened, _ := h.Counts()
	if opened != 3 {
		t.Errorf("breaker opened after %d failures, want 3", opened)
	}
	time.Sleep(500 * time.Millisecond)
	if n, _ := h.Counts(); n != opened {
		t.Errorf("%d requests reached the host while its breaker was open", n-opened)
	}
	h.Set(Behaviour{})
	waitFor(t, 10*time.Second, "the probe to deliver", func() bool { return len(h.Received(create)) == 1 })
	waitFor(t, 5*time.Second, "the breaker to close", func() bool { return dl.BreakerState(h.Addr) == "closed" })

	// Every outcome is counted.
	resp := must(http.Get(r.in.base + "/metrics"))
	metrics := string(must(io.ReadAll(resp.Body)))
	resp.Body.Close()
	for _, want := range []string{
		`starling_delivery_outcomes_total{outcome="delivered"} 1`,
		`starling_delivery_outcomes_total{outcome="retry_scheduled"} 3`,
		`starling_delivery_outcomes_total{outcome="breaker_wait"}`,
		`starling_delivery_failures_total{class="http_5xx"} 3`,
		`starling_delivery_attempt_seconds_count`,
		`starling_delivery_breakers{state="open"}`,
		`starling_delivery_waiting`,
		`starling_stream_messages{stream="STARLING_DELIVERY"}`,
		`starling_relay_scheduled_events`,
		`starling_backpressure 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestDeliverySlowHostIsolation: per-host caps keep a host that takes a
// minute per request from holding the others' workers: beside it, every
// post still reaches every healthy host (within 10 s each, a bound six
// times below the slow host's minute, so it can only hold if no healthy
// delivery waited behind a slow one). The latencies are logged, not
// asserted: BENCHMARKS.md has the figures.
func TestDeliverySlowHostIsolation(t *testing.T) {
	const healthy, posts = 10, 10
	r := newDeliveryRig(t, healthy+1)
	slow := r.fleet.Hosts[healthy]
	slow.Set(Behaviour{Delay: time.Minute})
	good := r.fleet.Hosts[:healthy]
	r.follow(good, 2)

	measure := func(phase string) []time.Duration {
		var lat []time.Duration
		for range posts {
			start := time.Now()
			create := r.post(phase + " " + time.Now().String())
			waitFor(t, 10*time.Second, "post "+phase+" to reach every healthy host", func() bool {
				for _, h := range good {
					if len(h.Received(create)) == 0 {
						return false
					}
				}
				return true
			})
			for _, h := range good {
				lat = append(lat, h.Received(create)[0].Sub(start))
			}
		}
		slices.Sort(lat)
		return lat
	}
	before := measure("alone")
	r.follow([]*FleetHost{slow}, 2)
	after := measure("beside a slow host")
	p99 := func(l []time.Duration) time.Duration { return l[(len(l)*99+99)/100-1] }
	slowRequests, _ := slow.Counts()
	t.Logf("healthy hosts' p99: %s alone, %s beside a host taking a minute (%d requests to it so far)",
		p99(before), p99(after), slowRequests)
	if slowRequests == 0 {
		t.Errorf("the slow host was never asked: the test proves nothing")
	}
}

// TestBackpressure fills the delivery stream (limited to 5 messages) with
// deliveries to slow hosts: the API answers 503 with Retry-After and says
// why, the admin report shows it, and once the hosts drain everything
// queued is delivered and posting works again.
func TestBackpressure(t *testing.T) {
	r := newDeliveryRig(t, 10, func(c *Config) { c.QueueMaxMessages = 5 })
	for _, h := range r.fleet.Hosts {
		h.Set(Behaviour{Delay: time.Second})
	}
	r.follow(r.fleet.Hosts, 1)
	first := r.post("fills the queue")

	if err := adminOf(r.in).SetRole(context.Background(), "alice", true); err != nil {
		t.Fatal(err)
	}
	admin := must(adminOf(r.in).CreateToken(context.Background(), "alice", "admin:read"))
	var rep struct {
		Overloaded bool   `json:"overloaded"`
		Reason     string `json:"reason"`
	}
	waitFor(t, 10*time.Second, "the admin report to show the backlog", func() bool {
		r.in.mustCall("GET", "/api/v1/admin/deliveries", admin, nil, &rep)
		return rep.Overloaded
	})
	if !strings.Contains(rep.Reason, "full") {
		t.Errorf("admin report does not say what is full: %q", rep.Reason)
	}
	req := must(http.NewRequest("POST", r.in.base+"/api/v1/statuses", strings.NewReader("status=more")))
	req.Header.Set("Authorization", "Bearer "+r.alice)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := must(http.DefaultClient.Do(req))
	var refusal map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&refusal)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("post while backed up: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(refusal["error"], "full") {
		t.Errorf("refusal does not say which queue is full: %q", refusal["error"])
	}

	waitFor(t, 60*time.Second, "every host to receive the first post", func() bool {
		for _, h := range r.fleet.Hosts {
			if len(h.Received(first)) == 0 {
				return false
			}
		}
		return true
	})
	waitFor(t, 30*time.Second, "the API to accept posts again", func() bool {
		var st api.Status
		if r.in.call("POST", "/api/v1/statuses", r.alice, url.Values{"status": {"drained"}}, &st) == http.StatusOK {
			return true
		}
		time.Sleep(250 * time.Millisecond)
		return false
	})
}

// TestDeleteSupersedesQueuedCreate deletes a status while its Create waits
// for a retry: the Create is never sent, and the Delete goes to the host
// the Create was addressed to.
func TestDeleteSupersedesQueuedCreate(t *testing.T) {
	r := newDeliveryRig(t, 2)
	waiting, ok := r.fleet.Hosts[0], r.fleet.Hosts[1]
	waiting.Set(Behaviour{Status: http.StatusServiceUnavailable, RetryAfter: "2", FailFirst: 1})
	r.follow(r.fleet.Hosts, 1)
	var st api.Status
	r.in.mustCall("POST", "/api/v1/statuses", r.alice, url.Values{"status": {"oops"}}, &st)
	create, del := st.URI+"/activity", st.URI+"#delete"
	waitFor(t, 5*time.Second, "the first attempt to be refused", func() bool { n, _ := waiting.Counts(); return n == 1 })
	r.in.mustCall("DELETE", "/api/v1/statuses/"+st.ID, r.alice, nil, nil)
	for _, h := range r.fleet.Hosts {
		waitFor(t, 10*time.Second, "the Delete at "+h.Addr, func() bool { return len(h.Received(del)) == 1 })
	}
	time.Sleep(3 * time.Second) // past the Create's Retry-After
	if n := len(waiting.Received(create)); n != 0 {
		t.Errorf("the deleted status's Create was delivered %d times after the Delete", n)
	}
	if n := len(ok.Received(create)); n != 1 {
		t.Errorf("the healthy host received the Create %d times, want 1", n)
	}
}

func TestDeliveryGoneInbox(t *testing.T) {
	r := newDeliveryRig(t, 2)
	gone := r.fleet.Hosts[0]
	gone.Set(Behaviour{Status: http.StatusGone})
	r.follow(r.fleet.Hosts, 1)
	r.post("first")
	ctx := context.Background()
	waitFor(t, 10*time.Second, "the 410 to be dead-lettered", func() bool {
		return len(must(r.in.srv.Store.DeadLetters(ctx, starling.DeadLetterFilter{Host: gone.Addr}))) == 1
	})
	second := r.post("second")
	waitFor(t, 10*time.Second, "the second post at the other host", func() bool { return len(r.fleet.Hosts[1].Received(second)) == 1 })
	if n, _ := gone.Counts(); n != 1 {
		t.Errorf("the gone inbox was addressed %d times, want once", n)
	}
}

// TestGracefulShutdownFinishesInFlight stops the server (as on SIGTERM)
// while a delivery is in flight: the attempt completes before Close
// returns, and meanwhile HTTP still serves the key the remote would fetch
// to verify it.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	r := newDeliveryRig(t, 1)
	h := r.fleet.Hosts[0]
	h.Set(Behaviour{Delay: 2 * time.Second})
	r.follow(r.fleet.Hosts, 1)
	create := r.post("last words")
	waitFor(t, 5*time.Second, "the delivery to be in flight", func() bool { n, _ := h.Counts(); return n == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- r.in.srv.Close(ctx) }()
	time.Sleep(300 * time.Millisecond) // shutdown under way, the delivery still in flight
	req := must(http.NewRequest("GET", r.acct.URI, nil))
	req.Header.Set("Accept", "application/activity+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("fetching alice's key while consumers drain: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("fetching alice's key while consumers drain: status %d, want 200", resp.StatusCode)
	}
	if err := <-closed; err != nil {
		t.Fatalf("close: %v", err)
	}
	if n := len(h.Received(create)); n != 1 {
		t.Errorf("the in-flight delivery completed %d times before shutdown finished, want 1", n)
	}
	if _, err := http.Get(r.in.base + "/api/v1/instance"); err == nil {
		t.Error("HTTP still answers after Close")
	}
}

// TestDeliverEd25519Fleet: the load tool's Ed25519 fleet asks for Ed25519
// after the first post, so the second reaches every host signed with
// alice's Ed25519 key, verified through her key document, with nothing
// rejected. The bench's Ed25519 figures rest on it: a fleet that could
// not verify would fall back to RSA and measure that instead.
func TestDeliverEd25519Fleet(t *testing.T) {
	r := newDeliveryRig(t, 3)
	r.fleet.AcceptEd25519 = true
	r.follow(r.fleet.Hosts, 1)
	for i, want := range []string{"draft-cavage", "rfc9421-ed25519"} {
		id := r.post(fmt.Sprintf("post %d", i))
		waitFor(t, 10*time.Second, "every host to receive "+id, func() bool {
			for _, h := range r.fleet.Hosts {
				if len(h.Received(id)) == 0 {
					return false
				}
			}
			return true
		})
		for _, h := range r.fleet.Hosts {
			st, knocks := h.Standards()
			if st[want] != 1 || knocks != 0 {
				t.Errorf("post %d: host %s verified %v with %d knocks, want one %s", i, h.Addr, st, knocks, want)
			}
			if _, rejected := h.Counts(); rejected != 0 {
				t.Errorf("post %d: host %s rejected %d deliveries", i, h.Addr, rejected)
			}
		}
	}
}
