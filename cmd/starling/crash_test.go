package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/store/postgres"
)

// process is the starling command running as a child process, configured
// by STARLING_* variables, so that a test can SIGKILL it.
type process struct {
	t   *testing.T
	env []string
	cmd *exec.Cmd
	out bytes.Buffer
}

func (p *process) run(args ...string) string {
	p.t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), p.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		p.t.Fatalf("starling %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

func (p *process) start(base string) {
	p.t.Helper()
	p.out.Reset()
	p.cmd = exec.Command(os.Args[0], "serve")
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	waitFor(p.t, 30*time.Second, "the child starling to serve", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (p *process) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// childConfig returns the environment of a child starling serving on a
// fresh loopback address with its own database, and its address.
func childConfig(t *testing.T) (addr string, cfg Config, env []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close() // the child listens here; the address is its identity, so it must not change
	cfg = newConfig(t, addr)
	return addr, cfg, []string{
		"STARLING_TEST_RUN_MAIN=1",
		"STARLING_LISTEN=" + addr,
		"STARLING_DOMAIN=" + addr,
		"STARLING_PROTOCOL=http",
		"STARLING_DATABASE_URL=" + cfg.DatabaseURL,
		"STARLING_DATA_DIR=" + cfg.DataDir,
		"STARLING_ALLOW_PRIVATE_ADDRESSES=true",
		"STARLING_QUEUE_ACK_WAIT=2s",
		"STARLING_DELIVERY_RETRY_SCHEDULE=" + cfg.DeliveryRetrySchedule,
		"STARLING_LOG_LEVEL=warn",
	}
}

// startChildWithAlice starts a child starling with an account alice made
// through the CLI, and returns it, its address and configuration, and
// alice's token.
func startChildWithAlice(t *testing.T) (*process, string, Config, string) {
	addr, cfg, env := childConfig(t)
	a := &process{t: t, env: env}
	a.run("admin", "account", "create", "--username", "alice", "--email", "alice@example.test", "--password", "correct horse battery")
	alice := a.run("admin", "token", "create", "--username", "alice")
	a.start("http://" + addr)
	t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			a.kill()
		}
		if t.Failed() {
			t.Logf("child output:\n%s", a.out.String())
		}
	})
	return a, addr, cfg, alice
}

// TestCrashAfterAcceptBeforeDelivery kills the origin server with SIGKILL
// after it accepted a post but before the post could be delivered, restarts
// it, and expects the post to arrive anyway.
func TestCrashAfterAcceptBeforeDelivery(t *testing.T) {
	a, addr, _, alice := startChildWithAlice(t)
	aBase := "http://" + addr

	b := startInstance(t, "B")
	bob := b.user("bob")
	b.follow(bob, b.resolve(bob, "alice@"+addr))

	// B refuses deliveries (503) until the crash is over.
	b.inbox.block(true)
	client := &http.Client{Timeout: 10 * time.Second}
	var post api.Status
	if code := call(t, client, "POST", aBase+"/api/v1/statuses", alice, url.Values{"status": {"survive this"}}, &post); code != http.StatusOK {
		t.Fatalf("post: status %d", code)
	}
	create := post.URI + "/activity"
	waitFor(t, 10*time.Second, "A to attempt the delivery", func() bool {
		_, refused := b.inbox.count(create)
		return refused > 0
	})
	a.kill()
	b.inbox.block(false)
	if posts, _ := b.inbox.count(create); posts != 0 {
		t.Fatalf("delivered before the crash")
	}

	a.start(aBase)
	waitFor(t, 60*time.Second, "the post in bob's home timeline after the restart", func() bool {
		return b.home(bob, post.URI) == 1
	})
	a.kill()
}

// TestCrashWithDeliveriesInFlight kills the delivering process with SIGKILL
// while 1,000 deliveries across 50 hosts are in flight, restarts it, and
// expects every inbox to end with every activity, at least once, and the
// receiving Starling among them to store each activity once.
func TestCrashWithDeliveriesInFlight(t *testing.T) {
	const hosts, posts = 50, 20
	a, addr, cfg, alice := startChildWithAlice(t)
	aBase := "http://" + addr

	fleet := slowFleet(t, hosts, 200*time.Millisecond) // keep deliveries in flight
	ctx := context.Background()
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := FollowFrom(ctx, db, must(db.AccountByAcct(ctx, "alice", "")), fleet.Hosts, 2); err != nil {
		t.Fatal(err)
	}
	b := startInstance(t, "B")
	bob := b.user("bob")
	b.follow(bob, b.resolve(bob, "alice@"+addr))

	client := &http.Client{Timeout: 10 * time.Second}
	var creates []string
	for i := range posts {
		var st api.Status
		if code := call(t, client, "POST", aBase+"/api/v1/statuses", alice, url.Values{"status": {fmt.Sprintf("post %d", i)}}, &st); code != http.StatusOK {
			t.Fatalf("post %d: status %d", i, code)
		}
		creates = append(creates, st.URI+"/activity")
	}
	received := func() (n int) {
		for _, h := range fleet.Hosts {
			n += h.Distinct()
		}
		return n
	}
	waitFor(t, 30*time.Second, "deliveries to be under way", func() bool { return received() >= 100 })
	a.kill()
	atKill := received()
	t.Logf("killed with %d of %d fleet deliveries done", atKill, hosts*posts)
	if atKill == hosts*posts {
		t.Fatal("every delivery finished before the kill; the test proves nothing")
	}

	a.start(aBase)
	waitFor(t, 90*time.Second, "every host to receive every post", func() bool { return received() == hosts*posts })
	for _, create := range creates {
		waitFor(t, 30*time.Second, "B to store "+create, func() bool {
			n, _ := b.srv.Store.CountInboxActivities(ctx, create)
			return n == 1
		})
	}
	twice := 0
	for _, h := range fleet.Hosts {
		for _, create := range creates {
			if len(h.Received(create)) > 1 {
				twice++
			}
		}
	}
	t.Logf("%d of %d deliveries arrived more than once (at least once is the contract)", twice, hosts*posts)
	var page []api.Status
	b.mustCall("GET", "/api/v1/timelines/home?limit=40", bob, nil, &page)
	seen := map[string]int{}
	for _, st := range page {
		seen[st.URI]++
	}
	for _, create := range creates {
		if n := seen[strings.TrimSuffix(create, "/activity")]; n != 1 {
			t.Errorf("bob's home timeline holds %s %d times, want 1", create, n)
		}
	}
}
