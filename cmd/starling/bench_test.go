package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/starling-social/starling/store/postgres"
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
	in := benchInstance(b)
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
	target := in.base + "/api/v1/timelines/home?limit=40"
	// The load generator shares the two cores with the server, so by
	// default it is a lean one, as wrk would be: one keep-alive TCP
	// connection per client, a request written from prepared bytes, the
	// answer read by its Content-Length. STARLING_BENCH_CLIENT=nethttp
	// uses net/http's client instead (heavier, so fewer req/s are left
	// for the server).
	newGetter := func() func() (time.Duration, error) {
		if os.Getenv("STARLING_BENCH_CLIENT") == "nethttp" {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			return func() (time.Duration, error) {
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
		}
		raw := []byte("GET /api/v1/timelines/home?limit=40 HTTP/1.1\r\nHost: " + in.cfg.Domain +
			"\r\nAuthorization: Bearer " + reader + "\r\n\r\n")
		var conn net.Conn
		var br *bufio.Reader
		return func() (time.Duration, error) {
			start := time.Now()
			if conn == nil {
				c, err := net.Dial("tcp", in.cfg.Domain)
				if err != nil {
					return 0, err
				}
				conn, br = c, bufio.NewReaderSize(c, 64<<10)
			}
			if _, err := conn.Write(raw); err != nil {
				conn.Close()
				conn = nil
				return 0, err
			}
			resp, err := http.ReadResponse(br, nil)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				conn.Close()
				conn = nil
				return 0, err
			}
			return time.Since(start), nil
		}
	}
	warm := newGetter()
	for range 500 { // warm caches and plans
		if _, err := warm(); err != nil {
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
				get := newGetter()
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

// BenchmarkPostToFeeds measures the whole path of a post by an account
// with STARLING_BENCH_FOLLOWERS (default 100,000) local followers, from
// the POST /api/v1/statuses answer to the status being in every
// follower's home feed: outbox transaction, relay, JetStream, the
// timeline builder's fan-out. It polls the fan-out's marker row.
//
//	go test ./cmd/starling -run '^$' -bench PostToFeeds -benchtime 5x
func BenchmarkPostToFeeds(b *testing.B) {
	in := benchInstance(b)
	author := in.user("author")
	followers := envInt("STARLING_BENCH_FOLLOWERS", 100_000)
	ctx := context.Background()
	db := benchSQLOf(b, in)
	var authorID int64
	if err := db.queryRow(ctx, `SELECT id FROM accounts WHERE username = 'author'`).Scan(&authorID); err != nil {
		b.Fatal(err)
	}
	setup := []string{
		`INSERT INTO accounts (id, username, uri) SELECT 1000 + g, 'f' || g, 'http://bench.test/users/f' || g FROM generate_series(1, $1) g`,
		`INSERT INTO follows (id, follower_id, followee_id, uri, accepted)
		 SELECT 1000 + g, 1000 + g, $2, 'http://bench.test/follows/' || g, true FROM generate_series(1, $1) g`,
		`ANALYZE`,
	}
	if db.sqlite != nil {
		setup = []string{
			`WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < ?1)
			 INSERT INTO accounts (id, username, uri) SELECT 1000 + g, 'f' || g, 'http://bench.test/users/f' || g FROM n`,
			`WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < ?1)
			 INSERT INTO follows (id, follower_id, followee_id, uri, accepted)
			 SELECT 1000 + g, 1000 + g, ?2, 'http://bench.test/follows/' || g, 1 FROM n`,
			`ANALYZE`,
		}
	}
	for _, q := range setup {
		args := []any{followers, authorID}
		if q == `ANALYZE` {
			args = nil
		} else if !strings.Contains(q, "$2") && !strings.Contains(q, "?2") {
			args = args[:1]
		}
		if err := db.exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		var st struct{ ID string }
		in.mustCall("POST", "/api/v1/statuses", author, url.Values{"status": {fmt.Sprintf("post %d", i)}}, &st)
		posted := time.Now()
		for {
			var feeds int64
			err := db.queryRow(ctx, db.dialect(`SELECT feeds FROM feed_fanouts WHERE status_id = $1`), st.ID).Scan(&feeds)
			if err == nil {
				if feeds != int64(followers)+1 {
					b.Fatalf("fanned out to %d feeds, want %d", feeds, followers+1)
				}
				break
			}
			if time.Since(posted) > time.Minute {
				b.Fatal("not fanned out after a minute")
			}
			time.Sleep(2 * time.Millisecond)
		}
		took = append(took, time.Since(posted))
		// How the time splits: from the status's creation (before the POST's
		// transaction) to the start of the fan-out's transaction is the
		// relay, JetStream and the builder's reads; the rest is the fan-out.
		var queued float64
		q := `SELECT extract(epoch FROM f.created_at - s.created_at)
			FROM feed_fanouts f JOIN statuses s ON s.id = f.status_id WHERE f.status_id = $1`
		if db.sqlite != nil {
			q = `SELECT (f.created_at - s.created_at) / 1e6
			FROM feed_fanouts f JOIN statuses s ON s.id = f.status_id WHERE f.status_id = ?1`
		}
		if err := db.queryRow(ctx, q, st.ID).Scan(&queued); err == nil {
			b.Logf("post %d: %.3f s from the status's creation to the fan-out's start", i, queued)
		}
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "s/post-median")
	b.ReportMetric(took[len(took)-1].Seconds(), "s/post-max")
	b.Logf("%d followers: %v", followers, took)
}

// benchInstance starts the benchmarks' server: on PostgreSQL, or on the
// embedded store with STARLING_BENCH_STORE=embedded.
func benchInstance(b *testing.B) *instance {
	b.Helper()
	if os.Getenv("STARLING_BENCH_STORE") == "embedded" {
		b.Log("on the embedded store")
		return startEmbedded(b, "bench")
	}
	return startInstance(b, "bench")
}

// benchSQL reaches the bench server's database directly, to build
// followers in bulk: PostgreSQL's pool, or the embedded store's file.
type benchSQL struct {
	pg     *postgres.DB
	sqlite *sql.DB
}

func benchSQLOf(b *testing.B, in *instance) benchSQL {
	if in.srv.DB != nil {
		return benchSQL{pg: in.srv.DB}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(in.cfg.DataDir, DefaultDatabaseFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return benchSQL{sqlite: db}
}

type rowScanner interface{ Scan(dest ...any) error }

func (d benchSQL) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	if d.sqlite != nil {
		return d.sqlite.QueryRowContext(ctx, q, args...)
	}
	return d.pg.Pool().QueryRow(ctx, q, args...)
}

func (d benchSQL) exec(ctx context.Context, q string, args ...any) error {
	if d.sqlite != nil {
		_, err := d.sqlite.ExecContext(ctx, q, args...)
		return err
	}
	_, err := d.pg.Pool().Exec(ctx, q, args...)
	return err
}

// dialect turns $1 into ?1 for SQLite.
func (d benchSQL) dialect(q string) string {
	if d.sqlite != nil {
		return strings.ReplaceAll(q, "$", "?")
	}
	return q
}
