package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/store/postgres/pgtest"
	"github.com/starling-social/starling/store/storetest"
)

// BenchmarkOperator measures the host table with 10,000 hosts and
// 1,000,000 pending deliveries (plus 200,000 delivered in the last day),
// and the trace of a post sent to 10,000 inboxes. Figures in BENCHMARKS.md.
//
//	go test ./store/postgres -run '^$' -bench Operator -benchtime 5x
func BenchmarkOperator(b *testing.B) {
	db := pgtest.NewDB(b)
	ctx := context.Background()
	alice := storetest.MustAccount(b, db, "alice", "")
	start := time.Now()
	for _, q := range []string{
		`INSERT INTO activities (id, uri, type, actor_id, object_uri, payload)
			SELECT g, 'https://local.test/a/' || g, 'Create', $1, 'https://local.test/s/' || g, '{}'
			FROM generate_series(1, 120) g`,
		`INSERT INTO statuses (id, uri, account_id, local, visibility, created_at)
			VALUES (1, 'https://local.test/s/1', $1, true, 'public', now())`,
		// 100 posts to 10,000 inboxes on 10,000 hosts, all pending.
		`INSERT INTO deliveries (activity_id, inbox, host, attempts, created_at)
			SELECT a, 'https://h' || h || '.test/inbox', 'h' || h || '.test', a % 5, now() - (a || ' minutes')::interval
			FROM generate_series(1, 100) a, generate_series(1, 10000) h WHERE $1::bigint IS NOT NULL`,
		// 20 posts delivered within the day.
		`INSERT INTO deliveries (activity_id, inbox, host, state, attempts, delivered_at, latency_ms)
			SELECT a, 'https://h' || h || '.test/inbox', 'h' || h || '.test', 'delivered', 1,
				now() - (a || ' minutes')::interval, (h % 300)
			FROM generate_series(101, 120) a, generate_series(1, 10000) h WHERE $1::bigint IS NOT NULL`,
		`ANALYZE deliveries`,
	} {
		var args []any
		if q != `ANALYZE deliveries` {
			args = append(args, alice.ID)
		}
		if _, err := db.Pool().Exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded in %s", time.Since(start).Round(time.Millisecond))
	// EXPLAIN="SELECT …" prints the plan of a query on this data (with -v).
	if q := os.Getenv("EXPLAIN"); q != "" {
		rows, err := db.Pool().Query(ctx, "EXPLAIN ANALYZE "+q)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var line string
			_ = rows.Scan(&line)
			b.Log(line)
		}
		rows.Close()
	}
	b.Run("host table, first page", func(b *testing.B) {
		for b.Loop() {
			list, err := db.HostBacklog(ctx, starling.HostBacklogFilter{Limit: 100})
			if err != nil || len(list) != 100 || list[0].Pending != 100 {
				b.Fatalf("%d hosts, %v", len(list), err)
			}
		}
	})
	b.Run("host table, all 10000", func(b *testing.B) {
		for b.Loop() {
			list, err := db.HostBacklog(ctx, starling.HostBacklogFilter{Limit: 10_000})
			if err != nil || len(list) != 10_000 {
				b.Fatalf("%d hosts, %v", len(list), err)
			}
		}
	})
	b.Run("one host", func(b *testing.B) {
		for b.Loop() {
			list, err := db.HostBacklog(ctx, starling.HostBacklogFilter{Host: "h77.test"})
			if err != nil || len(list) != 1 || list[0].Delivered24h != 20 {
				b.Fatalf("%+v, %v", list, err)
			}
		}
	})
	b.Run("chart, last 6 hours", func(b *testing.B) {
		since := time.Now().Truncate(6 * time.Minute).Add(-6 * time.Hour).Add(6 * time.Minute)
		for b.Loop() {
			h, err := db.DeliveryHistory(ctx, since, 6*time.Minute)
			if err != nil || len(h) != 60 {
				b.Fatalf("%d steps, %v", len(h), err)
			}
		}
	})
	b.Run("backlog sample", func(b *testing.B) {
		at := time.Now().Truncate(time.Minute)
		for b.Loop() {
			at = at.Add(time.Minute) // a new minute each time: the count is made
			if err := db.SampleBacklog(ctx, at); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("trace of a post to 10000 inboxes", func(b *testing.B) {
		for b.Loop() {
			list, err := db.DeliveryTrace(ctx, 1)
			if err != nil || len(list) != 10_000 {
				b.Fatalf("%d, %v", len(list), err)
			}
		}
	})
}
