package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

// buildStarling builds the starling command into a directory of the test
// and returns its path: the cluster runs the binary an operator runs.
func buildStarling(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "starling")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build starling: %v\n%s", err, out)
	}
	return bin
}

// roleProcess is `starling serve --roles ROLE` in a child process.
type roleProcess struct {
	t    *testing.T
	name string
	bin  string
	addr string // --listen
	env  []string
	cmd  *exec.Cmd
	log  string // its output, shown when the test fails
}

func (p *roleProcess) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	p.cmd = exec.Command(p.bin, "serve")
	p.cmd.Env = append(os.Environ(), append(p.env, "STARLING_LISTEN="+p.addr)...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
}

// waitReady waits until the process answers /readyz with 200.
func (p *roleProcess) waitReady() {
	p.t.Helper()
	waitFor(p.t, time.Minute, p.name+" to be ready", func() bool {
		if p.cmd.ProcessState != nil {
			p.t.Fatalf("%s exited: %s\n%s", p.name, p.cmd.ProcessState, p.output())
		}
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (p *roleProcess) kill() {
	if p.cmd == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

func (p *roleProcess) output() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// balancer spreads TCP connections over targets in turn, skipping those
// that refuse: the one public address of several api processes, with no
// sticky routing.
type balancer struct {
	ln      net.Listener
	targets []string
	mu      sync.Mutex
	next    int
}

func startBalancer(t *testing.T, ln net.Listener, targets []string) *balancer {
	b := &balancer{ln: ln, targets: targets}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

func (b *balancer) serve(c net.Conn) {
	defer c.Close()
	for range b.targets {
		b.mu.Lock()
		target := b.targets[b.next%len(b.targets)]
		b.next++
		b.mu.Unlock()
		s, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil {
			continue
		}
		defer s.Close()
		go func() { _, _ = io.Copy(s, c); s.Close() }()
		_, _ = io.Copy(c, s)
		return
	}
}

// TestClusterSurvivesKills runs Starling as it scales out: two processes
// of each role (api, inbox, fanout, timeline) on one PostgreSQL and a
// 3-node NATS cluster with streams of three replicas, behind one address.
// A post goes to 5,000 remote followers on 500 simulated servers and to
// 5,000 local followers; mid-fanout one fanout process and one NATS node
// are killed with SIGKILL. Every remote server still gets the post (at
// least once) and every local home feed holds it exactly once.
func TestClusterSurvivesKills(t *testing.T) {
	if os.Getenv("STARLING_TEST_STORE") == "embedded" {
		t.Skip("a cluster of processes shares one PostgreSQL; the embedded store is one process by design")
	}
	const (
		hosts          = 500
		remotePerHost  = 10 // 5,000 remote followers
		localFollowers = 5000
	)
	began := time.Now()
	lap := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	bin := buildStarling(t)
	lap("built starling")
	nodes := startNATSCluster(t, 3)
	// Streams as an earlier start left them, with one replica: the
	// processes scale them to three.
	withJetStream(t, natsURLs(nodes), func(js jetstream.JetStream, topo queue.Topology) {
		if err := queue.EnsureStreams(context.Background(), js, topo, queue.Limits{Replicas: 1}); err != nil {
			t.Fatal(err)
		}
	})
	lap("nats cluster up")

	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	domain := front.Addr().String()
	dsn := pgtest.NewDatabaseURL(t)
	env := []string{
		"STARLING_DOMAIN=" + domain,
		"STARLING_PROTOCOL=http",
		"STARLING_DATABASE_URL=" + dsn,
		"STARLING_NATS_URL=" + natsURLs(nodes),
		"STARLING_STREAM_REPLICAS=3",
		"STARLING_DATA_DIR=" + t.TempDir(),
		"STARLING_ALLOW_PRIVATE_ADDRESSES=true",
		"STARLING_QUEUE_ACK_WAIT=2s",
		"STARLING_DELIVERY_WORKERS=16",
		"STARLING_DELIVERY_RETRY_SCHEDULE=200ms,400ms,800ms,1s,1s,1s,1s,1s",
		"STARLING_SHUTDOWN_TIMEOUT=2s",
		"STARLING_LOG_LEVEL=warn",
	}
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("starling %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	cli("admin", "account", "create", "--username", "poster", "--email", "poster@example.test", "--password", "correct horse battery")
	token := cli("admin", "token", "create", "--username", "poster")

	fleet := slowFleet(t, hosts, 300*time.Millisecond) // keep deliveries in flight long enough to kill
	addrs := make([]string, len(fleet.Hosts))
	for i, h := range fleet.Hosts {
		addrs[i] = h.Addr
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var posterID int64
	if err := pool.QueryRow(ctx, `SELECT id FROM accounts WHERE username = 'poster' AND domain IS NULL`).Scan(&posterID); err != nil {
		t.Fatal(err)
	}
	// Followers written straight into the store, set-wise: ids far below
	// those Starling mints. Local followers have a placeholder Ed25519 key
	// so that no process generates 5,000 keys at start.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts (id, username, domain, uri, inbox_url, shared_inbox_url, key_id, public_key_pem)
		  SELECT 2000000 + (h.i - 1) * $2 + j, 'u' || j, h.addr, 'http://' || h.addr || '/users/u' || j,
		         'http://' || h.addr || '/users/u' || j || '/inbox', 'http://' || h.addr || '/inbox',
		         'http://' || h.addr || '/users/u' || j || '#main-key', 'simulated'
		    FROM unnest($1::text[]) WITH ORDINALITY h(addr, i), generate_series(0, $2 - 1) j`, []any{addrs, remotePerHost}},
		{`INSERT INTO accounts (id, username, uri, ed25519_private_key_pem)
		  SELECT 1000000 + g, 'l' || g, $2 || '/users/l' || g, 'simulated' FROM generate_series(1, $1) g`,
			[]any{localFollowers, "http://" + domain}},
		{`INSERT INTO follows (id, follower_id, followee_id, uri, accepted)
		  SELECT a.id, a.id, $1, a.uri || '#follows-poster', true FROM accounts a WHERE a.id BETWEEN 1000001 AND 2999999`, []any{posterID}},
		{`ANALYZE`, nil},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("set up followers: %v", err)
		}
	}
	lap("followers written")

	var procs []*roleProcess
	byRole := map[string][]*roleProcess{}
	logs := t.TempDir()
	for _, role := range allRoles() {
		for i := range 2 {
			p := &roleProcess{t: t, name: fmt.Sprintf("%s-%d", role, i), bin: bin, addr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
				env: append(append([]string{}, env...), "STARLING_ROLES="+role)}
			p.log = filepath.Join(logs, p.name+".log")
			procs = append(procs, p)
			byRole[role] = append(byRole[role], p)
		}
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
			if t.Failed() {
				t.Logf("%s output:\n%s", p.name, p.output())
			}
		}
	})
	// The first process creates the streams and its consumer alone; the
	// others find them.
	procs[0].start()
	procs[0].waitReady()
	for _, p := range procs[1:] {
		p.start()
	}
	for _, p := range procs[1:] {
		p.waitReady()
	}
	startBalancer(t, front, []string{byRole[RoleAPI][0].addr, byRole[RoleAPI][1].addr})
	lap("8 processes ready")
	assertReplicas(t, natsURLs(nodes), 3)

	client := &http.Client{Timeout: 30 * time.Second}
	var post api.Status
	if code := call(t, client, "POST", "http://"+domain+"/api/v1/statuses", token, url.Values{"status": {"to ten thousand followers"}}, &post); code != http.StatusOK {
		t.Fatalf("post: status %d", code)
	}
	create := post.URI + "/activity"
	lap("posted")
	reached := func() (n, dup int) {
		for _, h := range fleet.Hosts {
			if got := len(h.Received(create)); got > 0 {
				n++
				dup += got - 1
			}
		}
		return n, dup
	}
	waitFor(t, time.Minute, "deliveries to be under way", func() bool { n, _ := reached(); return n >= hosts/20 })
	byRole[RoleFanout][0].kill()
	nodes[0].kill()
	atKill, _ := reached()
	lap(fmt.Sprintf("killed %s and %s with %d of %d servers reached", byRole[RoleFanout][0].name, nodes[0].cfg.Name, atKill, hosts))
	if atKill == hosts {
		t.Fatal("every server was reached before the kills; the test proves nothing")
	}

	waitFor(t, 2*time.Minute, "every remote server to receive the post", func() bool { n, _ := reached(); return n == hosts })
	_, dup := reached()
	lap(fmt.Sprintf("every remote server reached (%d repeated deliveries; at least once is the contract)", dup))

	statusID, err := strconv.ParseInt(post.ID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var rows, readers, followersWith int
	waitFor(t, 2*time.Minute, "the post in every local home feed", func() bool {
		err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT h.account_id),
			       count(*) FILTER (WHERE h.account_id BETWEEN 1000001 AND 1999999)
			  FROM home_feed h WHERE h.status_id = $1`, statusID).Scan(&rows, &readers, &followersWith)
		return err == nil && followersWith == localFollowers
	})
	if rows != readers || rows != localFollowers+1 {
		t.Errorf("home_feed holds the post %d times for %d readers, want once for each of %d followers and the poster", rows, readers, localFollowers)
	}
	// Either api process serves the feeds, whichever the balancer picks.
	for range 2 {
		var page []api.Status
		if code := call(t, client, "GET", "http://"+domain+"/api/v1/timelines/home", token, nil, &page); code != http.StatusOK || len(page) != 1 || page[0].URI != post.URI {
			t.Errorf("the poster's home timeline: status %d, %d statuses", code, len(page))
		}
	}
	lap("every local home feed holds the post once")
}

// assertReplicas checks that every stream of the default topology is kept
// by replicas servers.
func assertReplicas(t *testing.T, urls string, replicas int) {
	t.Helper()
	withJetStream(t, urls, func(js jetstream.JetStream, topo queue.Topology) {
		for _, kind := range []string{queue.Outbox, queue.Delivery, queue.Inbox, queue.Timeline} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s, err := js.Stream(ctx, topo.Stream(kind))
			cancel()
			if err != nil {
				t.Fatalf("stream %s: %v", topo.Stream(kind), err)
			}
			info := s.CachedInfo()
			if info.Config.Replicas != replicas || info.Cluster == nil || len(info.Cluster.Replicas)+1 != replicas {
				t.Errorf("stream %s has %d replicas configured, %+v placed; want %d", topo.Stream(kind), info.Config.Replicas, info.Cluster, replicas)
			}
		}
	})
}

// withJetStream runs fn with a JetStream connection to urls, and the
// default topology.
func withJetStream(t *testing.T, urls string, fn func(jetstream.JetStream, queue.Topology)) {
	t.Helper()
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	topo, _ := queue.NewTopology("")
	fn(js, topo)
}
