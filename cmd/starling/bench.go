package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/store/postgres"
)

// benchDeliver is `starling bench deliver`: it starts `starling serve` as a
// child process, a simulated fleet of remote servers on loopback in this
// one, makes followers on the fleet follow a local account, posts once, and
// reports how fast and at what CPU cost the post reached every host, beside
// this machine's signing costs (RSA and Ed25519) measured in the same run.
func benchDeliver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("starling bench deliver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	followers := fs.Int("followers", 10000, "remote followers")
	hosts := fs.Int("hosts", 2000, "remote hosts they are spread over")
	adminURL := fs.String("database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL `url` of a database the bench can create a scratch database from")
	slow := fs.Int("slow-hosts", 0, "hosts that sleep --slow-delay before answering")
	slowDelay := fs.Duration("slow-delay", 10*time.Second, "delay of slow hosts")
	hang := fs.Int("hang-hosts", 0, "hosts that never answer")
	failing := fs.Int("error-hosts", 0, "hosts that answer 500")
	limited := fs.Int("ratelimit-hosts", 0, "hosts that answer 429 with Retry-After: 1 once, then accept")
	gone := fs.Int("gone-hosts", 0, "hosts that answer 410")
	closing := fs.Int("closing-hosts", 0, "hosts that answer 503 with Connection: close twice, then accept")
	workers := fs.Int("delivery-workers", 512, "--delivery-workers of the server")
	profile := fs.String("cpu-profile", "", "write the server's CPU profile to `file`")
	schedule := fs.String("retry-schedule", "1s,2s,4s,8s,16s", "--delivery-retry-schedule of the server")
	posts := fs.Int("posts", 2, "posts, one after another: the first meets new connections, the rest kept-alive ones")
	ed := fs.Bool("fleet-ed25519", false, "hosts answer with Accept-Signature asking for RFC 9421 with Ed25519: the first post is signed draft-cavage, the rest with the Ed25519 key")
	legacyShare := fs.Float64("fleet-legacy-share", 0, "share (0 to 1) of healthy hosts that verify draft-cavage only and refuse RFC 9421 with 401; with --fleet-ed25519 the rest ask for Ed25519")
	var serverEnv []string
	fs.Func("server-env", "`KEY=VALUE` in the server's environment only (repeatable), e.g. GOGC=100", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		serverEnv = append(serverEnv, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *legacyShare < 0 || *legacyShare > 1 {
		return fmt.Errorf("--fleet-legacy-share %v: want a number from 0 to 1", *legacyShare)
	}
	if *hosts < 1 || *followers < *hosts {
		return fmt.Errorf("want --hosts >= 1 and --followers >= --hosts")
	}
	odd := *slow + *hang + *failing + *gone
	if odd+*limited+*closing > *hosts || odd >= *hosts {
		return fmt.Errorf("--slow-hosts, --hang-hosts, --error-hosts, --gone-hosts, --ratelimit-hosts and --closing-hosts must leave some healthy hosts")
	}
	fmt.Fprintf(stdout, "starling bench deliver: %d followers on %d hosts\n", *followers, *hosts)

	dsn, drop, err := postgres.ScratchDatabase(ctx, "starling_bench_", *adminURL)
	if err != nil {
		return err
	}
	defer drop()
	dir, err := os.MkdirTemp("", "starling-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fleet, err := NewFleet(*hosts)
	if err != nil {
		return err
	}
	defer fleet.Close()
	fleet.AcceptEd25519 = *ed
	healthy := fleet.Hosts
	for i, h := range fleet.Hosts {
		switch {
		case i < *slow:
			h.Set(Behaviour{Delay: *slowDelay})
		case i < *slow+*hang:
			h.Set(Behaviour{Hang: true})
		case i < *slow+*hang+*failing:
			h.Set(Behaviour{Status: http.StatusInternalServerError})
		case i < odd:
			h.Set(Behaviour{Status: http.StatusGone})
		case i < odd+*limited:
			h.Set(Behaviour{Status: http.StatusTooManyRequests, RetryAfter: "1", FailFirst: 1})
		case i < odd+*limited+*closing:
			h.Set(Behaviour{Status: http.StatusServiceUnavailable, CloseConn: true, FailFirst: 2})
		}
	}
	// The last share of the plain healthy hosts are legacy ones.
	if n := int(*legacyShare * float64(*hosts-odd-*limited-*closing)); n > 0 {
		for _, h := range fleet.Hosts[len(fleet.Hosts)-n:] {
			h.Set(Behaviour{Legacy: true})
		}
		fmt.Fprintf(stdout, "legacy hosts (draft-cavage only): %d\n", n)
	}
	// Hosts that accept in the end; rate-limiting and closing ones do, later.
	healthy = fleet.Hosts[odd:]
	plain := len(healthy) - *limited - *closing

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(exe, "serve")
	child.Env = append(os.Environ(),
		"STARLING_TEST_RUN_MAIN=1", // lets a test binary act as the command
		"STARLING_LISTEN="+addr, "STARLING_DOMAIN="+addr, "STARLING_PROTOCOL=http",
		"STARLING_DATABASE_URL="+dsn, "STARLING_DATA_DIR="+filepath.Join(dir, "data"),
		"STARLING_ALLOW_PRIVATE_ADDRESSES=true", "STARLING_LOG_LEVEL=warn",
		"STARLING_DELIVERY_WORKERS="+strconv.Itoa(*workers),
		"STARLING_DELIVERY_RETRY_SCHEDULE="+*schedule,
		"STARLING_CPU_PROFILE="+*profile)
	child.Env = append(child.Env, serverEnv...)
	child.Stdout, child.Stderr = stderr, stderr
	if err := child.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	defer func() {
		_ = child.Process.Signal(syscall.SIGTERM)
		_ = child.Wait()
	}()
	base := "http://" + addr
	if err := waitHTTP(ctx, base+"/healthz", 60*time.Second); err != nil {
		return err
	}

	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	adm := &api.Admin{Store: db, Site: federation.Site{Scheme: "http", Host: addr}}
	alice, err := adm.CreateAccount(ctx, "alice", "alice@bench.test", "bench password")
	if err != nil {
		return err
	}
	token, err := adm.CreateToken(ctx, "alice", "write")
	if err != nil {
		return err
	}
	perHost := *followers / *hosts
	start := time.Now()
	if err := FollowFrom(ctx, db, alice, fleet.Hosts, perHost); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "followers: %d (%d per host) created in %s\n", perHost**hosts, perHost, time.Since(start).Round(time.Millisecond))

	signPerOp, edPerOp := signingCost(300), ed25519SigningCost(3000)
	fmt.Fprintf(stdout, "RSA-2048 signing here, in this process, as the server signs: %.3f ms per signature (one core); ceiling on 2 cores: %.0f signatures/s\n",
		signPerOp.Seconds()*1000, 2/signPerOp.Seconds())
	fmt.Fprintf(stdout, "Ed25519 (RFC 9421) signing here: %.3f ms per signature (one core); ceiling on 2 cores: %.0f signatures/s\n",
		edPerOp.Seconds()*1000, 2/edPerOp.Seconds())
	b := &benchPost{ctx: ctx, base: base, token: token, pid: child.Process.Pid, healthy: healthy, plain: plain,
		signCost: map[string]time.Duration{"draft-cavage": signPerOp, "rfc9421-rsa": signPerOp, "rfc9421-ed25519": edPerOp},
		standards: func() map[string]int {
			all := map[string]int{}
			for _, h := range fleet.Hosts {
				st, _ := h.Standards()
				for name, n := range st {
					all[name] += n
				}
			}
			return all
		}}
	for i := range *posts {
		label := "post 1 (cold: every connection is new)"
		if i > 0 {
			label = fmt.Sprintf("post %d (warm: connections kept alive)", i+1)
		}
		fmt.Fprintf(stdout, "\n%s\n", label)
		if err := b.run(stdout); err != nil {
			return err
		}
	}
	if len(b.cpu) > 2 {
		// One warm post is one sample of a noisy VM; the median of several is
		// the figure to quote.
		warmCPU, warmLast := slices.Clone(b.cpu[1:]), slices.Clone(b.last[1:])
		slices.Sort(warmCPU)
		slices.Sort(warmLast)
		fmt.Fprintf(stdout, "\nwarm posts (%d): server CPU per delivery median %.3f ms (%.3f–%.3f), last delivery median %s (%s–%s)\n",
			len(warmCPU), median(warmCPU).Seconds()*1000, warmCPU[0].Seconds()*1000, warmCPU[len(warmCPU)-1].Seconds()*1000,
			median(warmLast).Round(time.Millisecond), warmLast[0].Round(time.Millisecond), warmLast[len(warmLast)-1].Round(time.Millisecond))
	}
	rejected, knocks := 0, 0
	byStandard := map[string]int{}
	for _, h := range fleet.Hosts {
		_, r := h.Counts()
		rejected += r
		st, k := h.Standards()
		knocks += k
		for name, n := range st {
			byStandard[name] += n
		}
	}
	fmt.Fprintf(stdout, "\ndeliveries by signature: draft-cavage %d, RFC 9421 RSA %d, RFC 9421 Ed25519 %d; knocks (RFC 9421 refused by legacy hosts): %d\n",
		byStandard["draft-cavage"], byStandard["rfc9421-rsa"], byStandard["rfc9421-ed25519"], knocks)
	fmt.Fprintf(stdout, "\nhosts left out: %d slow, %d hanging, %d failing, %d gone; deliveries rejected by signature checks: %d\n",
		*slow, *hang, *failing, *gone, rejected)
	return nil
}

// benchPost posts once and waits for the fleet to receive it.
type benchPost struct {
	ctx     context.Context
	base    string
	token   string
	pid     int
	healthy []*FleetHost
	plain   int // the healthy hosts that answer at once (the last plain of healthy)
	// signCost is one signature's cost by the fleet's name of its
	// standard; standards counts what the fleet verified so far, by
	// standard, so that a post's signing cost is weighed by what it used.
	signCost  map[string]time.Duration
	standards func() map[string]int

	cpu, last []time.Duration // per post: server CPU per delivery, time to the last delivery
}

func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func (b *benchPost) run(stdout io.Writer) error {
	standardsBefore := b.standards()
	cpuBefore, err := processCPU(b.pid)
	if err != nil {
		return err
	}
	posted := time.Now()
	form := url.Values{"status": {"bench " + posted.Format(time.RFC3339Nano)}}
	req, _ := http.NewRequestWithContext(b.ctx, "POST", b.base+"/api/v1/statuses", strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	var st api.Status
	if err := decodeJSON(resp, &st); err != nil {
		return fmt.Errorf("post: %w", err)
	}
	create := st.URI + "/activity"
	deadline := time.Now().Add(5 * time.Minute)
	var lat, later []time.Duration
	var cpuAfter cpuTimes
	for {
		lat, later = lat[:0], later[:0]
		for i, h := range b.healthy {
			if got := h.Received(create); len(got) > 0 {
				if i >= len(b.healthy)-b.plain { // the odd-behaving accepting hosts come first
					lat = append(lat, got[0].Sub(posted))
				} else {
					later = append(later, got[0].Sub(posted))
				}
			}
		}
		if len(lat) == b.plain && cpuAfter == (cpuTimes{}) {
			// The healthy hosts are done: the CPU spent so far is theirs.
			if cpuAfter, err = processCPU(b.pid); err != nil {
				return err
			}
		}
		if len(lat)+len(later) == len(b.healthy) || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if len(lat)+len(later) < len(b.healthy) {
		return fmt.Errorf("only %d of %d accepting hosts received the post within 5 minutes", len(lat)+len(later), len(b.healthy))
	}
	slices.Sort(lat)
	last := lat[len(lat)-1]
	cpu := cpuAfter.total() - cpuBefore.total()
	sys := cpuAfter.system - cpuBefore.system
	n := len(lat)
	perDelivery := cpu / time.Duration(n)
	b.cpu, b.last = append(b.cpu, perDelivery), append(b.last, last)
	rate := float64(n) / last.Seconds()
	fmt.Fprintf(stdout, "  deliveries: %d to healthy hosts, %d to rate-limiting or connection-closing ones\n", n, len(later))
	fmt.Fprintf(stdout, "  time to last delivery (healthy hosts): %s   rate: %.0f deliveries/s\n", last.Round(time.Millisecond), rate)
	if len(later) > 0 {
		slices.Sort(later)
		fmt.Fprintf(stdout, "  rate-limiting and connection-closing hosts: all %d delivered, the last after %s\n", len(later), later[len(later)-1].Round(time.Millisecond))
	}
	fmt.Fprintf(stdout, "  per-host latency: p50 %s  p90 %s  p99 %s  max %s\n",
		pct(lat, 50), pct(lat, 90), pct(lat, 99), last.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  server CPU: %s in all, %.3f ms per delivery (%.0f%% in the kernel)\n", cpu.Round(time.Millisecond), perDelivery.Seconds()*1000, 100*sys.Seconds()/cpu.Seconds())
	// The post's signatures, by standard: what the fleet verified since
	// the post began (retries and knocks included).
	var signed int
	var signCPU time.Duration
	for name, n := range b.standards() {
		n -= standardsBefore[name]
		signed += n
		signCPU += time.Duration(n) * b.signCost[name]
	}
	if signed > 0 {
		perSign := signCPU / time.Duration(signed)
		fmt.Fprintf(stdout, "  signing share of server CPU per delivery: %.0f%% (%d signatures, %.3f ms each on average)   rate vs 2-core signing ceiling: %.0f%%\n",
			100*perSign.Seconds()/perDelivery.Seconds(), signed, perSign.Seconds()*1000, 100*rate/(2/perSign.Seconds()))
	}
	return nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	return sorted[i].Round(time.Millisecond)
}

// cpuTimes is a process's CPU time, in user space and in the kernel.
type cpuTimes struct{ user, system time.Duration }

func (c cpuTimes) total() time.Duration { return c.user + c.system }

// processCPU returns the CPU time a process has used.
func processCPU(pid int) (cpuTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read cpu of %d: %w", pid, err)
	}
	// Fields after the command (which may hold spaces) start after ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return cpuTimes{time.Duration(utime) * time.Second / ticks, time.Duration(stime) * time.Second / ticks}, nil
}

func waitHTTP(ctx context.Context, u string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer within %s", u, d)
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
