package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

// SampleBacklog records the count of pending deliveries at at, once, and
// drops samples older than starling.BacklogSampleKeep (see PostgreSQL's).
func (db *DB) SampleBacklog(ctx context.Context, at time.Time) error {
	err := db.inTx(ctx, func(t *tx) error {
		if _, err := t.ExecContext(ctx, `DELETE FROM backlog_samples WHERE at < ?1`, at.Add(-starling.BacklogSampleKeep).UnixMicro()); err != nil {
			return err
		}
		_, err := t.ExecContext(ctx, `INSERT INTO backlog_samples (at, pending)
			SELECT ?1, count(*) FROM deliveries WHERE state = 'pending' AND NOT EXISTS (SELECT 1 FROM backlog_samples WHERE at = ?1)
			ON CONFLICT (at) DO NOTHING`, at.UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: sample the backlog: %w", err)
	}
	return nil
}

// DeliveryHistory returns deliveries queued and delivered per step since
// since, and the backlog sampled in each step.
func (db *DB) DeliveryHistory(ctx context.Context, since time.Time, step time.Duration) ([]starling.DeliveryRate, error) {
	out := starling.NewDeliveryHistory(since, time.Now(), step)
	for _, q := range []struct {
		sql string
		set func(r *starling.DeliveryRate, n int64)
	}{
		{`SELECT (created_at - ?1) / ?2, count(*) FROM deliveries WHERE created_at >= ?1 GROUP BY 1`,
			func(r *starling.DeliveryRate, n int64) { r.Queued = n }},
		{`SELECT (delivered_at - ?1) / ?2, count(*) FROM deliveries WHERE state = 'delivered' AND delivered_at >= ?1 GROUP BY 1`,
			func(r *starling.DeliveryRate, n int64) { r.Delivered = n }},
		{`SELECT (at - ?1) / ?2, pending FROM backlog_samples WHERE at >= ?1 ORDER BY at`,
			func(r *starling.DeliveryRate, n int64) { r.Pending = n }},
	} {
		rows, err := db.read.QueryContext(ctx, q.sql, since.UnixMicro(), step.Microseconds())
		if err != nil {
			return nil, fmt.Errorf("sqlite: delivery history: %w", err)
		}
		for rows.Next() {
			var i int
			var n int64
			if err := rows.Scan(&i, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: delivery history: %w", err)
			}
			if i >= 0 && i < len(out) {
				q.set(&out[i], n)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: delivery history: %w", err)
		}
	}
	return out, nil
}
