package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

// SampleBacklog records the count of pending deliveries at at (a minute,
// truncated by the caller), once: the first process to sample a minute
// counts, the others find the row and count nothing. Samples older than
// starling.BacklogSampleKeep go in the same statement.
func (db *DB) SampleBacklog(ctx context.Context, at time.Time) error {
	_, err := db.pool.Exec(ctx, `WITH gone AS (DELETE FROM backlog_samples WHERE at < $2)
		INSERT INTO backlog_samples (at, pending)
		SELECT $1, count(*) FROM deliveries
		WHERE state = 'pending' AND NOT EXISTS (SELECT 1 FROM backlog_samples WHERE at = $1)
		ON CONFLICT (at) DO NOTHING`, at, at.Add(-starling.BacklogSampleKeep))
	if err != nil {
		return fmt.Errorf("sample the backlog: %w", err)
	}
	return nil
}

// DeliveryHistory returns deliveries queued and delivered per step since
// since, and the backlog sampled in each step. One pass over the
// deliveries queued since then, one over the delivered index.
func (db *DB) DeliveryHistory(ctx context.Context, since time.Time, step time.Duration) ([]starling.DeliveryRate, error) {
	out := starling.NewDeliveryHistory(since, time.Now(), step)
	for _, q := range []struct {
		sql string
		set func(r *starling.DeliveryRate, n int64)
	}{
		{`SELECT floor(extract(epoch FROM created_at - $1) / $2)::int, count(*) FROM deliveries
			WHERE created_at >= $1 GROUP BY 1`, func(r *starling.DeliveryRate, n int64) { r.Queued = n }},
		{`SELECT floor(extract(epoch FROM delivered_at - $1) / $2)::int, count(*) FROM deliveries
			WHERE state = 'delivered' AND delivered_at >= $1 GROUP BY 1`, func(r *starling.DeliveryRate, n int64) { r.Delivered = n }},
		// In time order, so the last sample of a step is the one kept.
		{`SELECT floor(extract(epoch FROM at - $1) / $2)::int, pending FROM backlog_samples
			WHERE at >= $1 ORDER BY at`, func(r *starling.DeliveryRate, n int64) { r.Pending = n }},
	} {
		rows, err := db.pool.Query(ctx, q.sql, since, step.Seconds())
		if err != nil {
			return nil, fmt.Errorf("delivery history: %w", err)
		}
		for rows.Next() {
			var i int
			var n int64
			if err := rows.Scan(&i, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("delivery history: %w", err)
			}
			if i >= 0 && i < len(out) {
				q.set(&out[i], n)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("delivery history: %w", err)
		}
	}
	return out, nil
}
