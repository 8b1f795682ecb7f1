package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkHomeTimelineHTTP measures home timeline reads of 40 statuses
// over HTTP on loopback against a whole Starling (api, PostgreSQL, NATS
// in this process), the load generator sharing the machine:
//
//	go test ./cmd/starling -run '^$' -bench HomeTimelineHTTP -benchtime 1x
//
// STARLING_BENCH_CONCURRENCY (default 16) clients with keep-alive read
// for STARLING_BENCH_SECONDS (default 10); it reports requests per second
// and the latency percentiles.
func BenchmarkHomeTimelineHTTP(b *testing.B) {
	in := startInstance(b, "bench")
	reader := in.user("reader")
	for i := range 10 {
		name := fmt.Sprintf("author%d", i)
		token := in.user(name)
		in.mustCall("POST", "/api/v1/accounts/"+in.accountID(reader, name)+"/follow", reader, url.Values{}, nil)
		for j := range 10 {
			in.post(token, fmt.Sprintf("status %d of %s, long enough to look like a post people write on a timeline #bench", j, name))
		}
	}
	waitFor(b, 30*time.Second, "100 statuses in the reader's feed", func() bool {
		n := 0
		next := "/api/v1/timelines/home?limit=40"
		for next != "" {
			got, nxt, _ := in.page(reader, next)
			n += len(got)
			if len(got) == 0 {
				break
			}
			next = nxt
		}
		return n == 100
	})
	workers := envInt("STARLING_BENCH_CONCURRENCY", 16)
	seconds := envInt("STARLING_BENCH_SECONDS", 10)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	target := in.base + "/api/v1/timelines/home?limit=40"
	get := func() (time.Duration, error) {
		req, _ := http.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "Bearer "+reader)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), err
	}
	for range 500 { // warm connections, caches and plans
		if _, err := get(); err != nil {
			b.Fatal(err)
		}
	}
	if path := os.Getenv("STARLING_BENCH_CPUPROFILE"); path != "" { // the load phase only
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	for range b.N {
		var mu sync.Mutex
		var all []time.Duration
		var failed int
		deadline := time.Now().Add(time.Duration(seconds) * time.Second)
		start := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				bad := 0
				for time.Now().Before(deadline) {
					d, err := get()
					if err != nil {
						bad++
						continue
					}
					mine = append(mine, d)
				}
				mu.Lock()
				all = append(all, mine...)
				failed += bad
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		slices.Sort(all)
		pct := func(p float64) float64 {
			return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000
		}
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(pct(0.999), "p99.9-ms")
		b.Logf("%d requests by %d clients in %s, %d failed", len(all), workers, elapsed.Round(time.Millisecond), failed)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
