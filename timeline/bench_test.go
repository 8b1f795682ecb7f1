package timeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/store/postgres/pgtest"
	"github.com/starling-social/starling/timeline"
)

// BenchmarkFanout measures how long a post by an account with N local
// followers takes to be in every follower's home feed: the builder's whole
// handling of the status.created event (read the status, index tags and
// mentions, the set-wise insert with every rule of fanoutSQL). In the same
// run it times a bare INSERT … SELECT of the same rows (the followers'
// ids, no rules, no ON CONFLICT) into the same table, and reports the ratio.
//
// Each size builds its own database, which for a million followers takes a
// minute or two, so run one size at a time and once:
//
//	go test ./timeline -run '^$' -bench 'Fanout/followers=100000$' -benchtime 1x
//	go test ./timeline -run '^$' -bench 'Fanout/followers=1000000$' -benchtime 1x -timeout 30m
//
// The benchmark is never part of go test ./... (benchmarks only run with -bench).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("followers=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, followers int) {
	ctx := context.Background()
	db := pgtest.NewDB(b)
	pool := db.Pool()
	start := time.Now()
	// The author, followers and a few relations the rules must consult.
	for _, q := range []string{
		`INSERT INTO accounts (id, username, uri) VALUES (1, 'author', 'https://local.test/users/author')`,
		`INSERT INTO accounts (id, username, uri)
		 SELECT 1000 + g, 'f' || g, 'https://local.test/users/f' || g FROM generate_series(1, $1) g`,
		`INSERT INTO follows (id, follower_id, followee_id, uri, accepted)
		 SELECT 1000 + g, 1000 + g, 1, 'https://local.test/follows/' || g, true FROM generate_series(1, $1) g`,
		`INSERT INTO mutes (account_id, target_account_id) SELECT 1000 + g, 1 FROM generate_series(1, 100) g`,
		`INSERT INTO blocks (account_id, target_account_id, uri) SELECT 2000 + g, 1, 'https://local.test/blocks/' || g FROM generate_series(1, 100) g`,
		`ANALYZE`,
	} {
		var err error
		if q == `ANALYZE` || !strings.Contains(q, "$1") {
			_, err = pool.Exec(ctx, q)
		} else {
			_, err = pool.Exec(ctx, q, followers)
		}
		if err != nil {
			b.Fatalf("setup: %v", err)
		}
	}
	// Feeds are empty unless STARLING_BENCH_PREFILL asks for that many
	// older entries in every follower's feed first: with full feeds each
	// new row lands on its own leaf page of the primary key, the steady
	// state of a busy server.
	if prefill, _ := strconv.Atoi(os.Getenv("STARLING_BENCH_PREFILL")); prefill > 0 {
		if _, err := pool.Exec(ctx, `INSERT INTO home_feed (account_id, status_id)
			SELECT f.follower_id, g FROM follows f CROSS JOIN generate_series(1, $1) g
			WHERE f.followee_id = 1 ORDER BY 1, 2`, prefill); err != nil {
			b.Fatalf("prefill: %v", err)
		}
		if _, err := pool.Exec(ctx, `VACUUM ANALYZE home_feed`); err != nil {
			b.Fatalf("prefill: %v", err)
		}
		b.ReportMetric(float64(prefill), "prefill/feed")
	}
	// STARLING_BENCH_WAL_COMPRESSION (lz4, zstd, pglz) sets wal_compression
	// for this benchmark's database only: with full feeds most of the WAL
	// is full-page images of the primary key's leaf pages.
	if c := os.Getenv("STARLING_BENCH_WAL_COMPRESSION"); c != "" {
		var name string
		if err := pool.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{name}.Sanitize()+` SET wal_compression = `+pgx.Identifier{c}.Sanitize()); err != nil {
			b.Fatalf("wal_compression: %v", err)
		}
		pool.Reset() // new connections take the setting
	}
	b.Logf("setup of %d followers: %s", followers, time.Since(start).Round(time.Millisecond))
	topo, _ := queue.NewTopology("")
	builder := &timeline.Builder{Store: db, Topology: topo, LocalDomain: "local.test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

	const runs = 5
	var fan, bare []time.Duration
	var wal []int64 // WAL bytes written per fan-out
	var rows int64
	b.ResetTimer()
	for range b.N * runs {
		id := starling.NewID(time.Now())
		if _, err := pool.Exec(ctx, `INSERT INTO statuses (id, uri, account_id, local, content, visibility, created_at)
			VALUES ($1, $2, 1, true, '<p>hello #bench</p>', 'public', now())`, id, fmt.Sprintf("https://local.test/s/%d", id)); err != nil {
			b.Fatal(err)
		}
		data, _ := json.Marshal(queue.TimelineEvent{StatusID: id})
		var lsn string
		if err := pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := builder.Apply(ctx, queue.StatusCreated, data); err != nil {
			b.Fatal(err)
		}
		fan = append(fan, time.Since(t0))
		var walBytes int64
		if err := pool.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint`, lsn).Scan(&walBytes); err != nil {
			b.Fatal(err)
		}
		wal = append(wal, walBytes)
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM home_feed WHERE status_id = $1`, id).Scan(&rows); err != nil {
			b.Fatal(err)
		}

		// The same rows again, bare, under another status id.
		id2 := id + 1
		if _, err := pool.Exec(ctx, `INSERT INTO statuses (id, uri, account_id, local, visibility, created_at)
			VALUES ($1, $2, 1, true, 'public', now())`, id2, fmt.Sprintf("https://local.test/s/%d", id2)); err != nil {
			b.Fatal(err)
		}
		t0 = time.Now()
		if err := bareInsert(ctx, pool, id2); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(fan)
	slices.Sort(bare)
	med := func(d []time.Duration) float64 { return d[len(d)/2].Seconds() }
	b.ReportMetric(med(fan), "s/post")
	b.ReportMetric(med(bare), "s/bare-insert")
	b.ReportMetric(med(fan)/med(bare), "ratio")
	b.ReportMetric(float64(rows), "feeds")
	b.Logf("fan-out %v, bare %v (sorted, %d runs); %d feeds got the post (followers minus 100 muting, 100 blocking, plus the author); WAL per fan-out %v bytes",
		fan, bare, len(fan), rows, wal)
}

// bareInsert is the floor the fan-out is compared with: the same rows into
// the same table, straight from the follows index, with JIT off as the
// fan-out has it.
func bareInsert(ctx context.Context, pool *pgxpool.Pool, statusID int64) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true)`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO home_feed (account_id, status_id)
		SELECT follower_id, $1 FROM follows WHERE followee_id = 1 AND accepted`, statusID); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
