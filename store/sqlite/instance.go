package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

// InstanceStats counts local users (the instance actor aside), live local
// statuses, known remote domains and local users who posted in 30 days.
func (db *DB) InstanceStats(ctx context.Context) (starling.InstanceStats, error) {
	var st starling.InstanceStats
	err := db.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM users),
		(SELECT count(*) FROM statuses WHERE local AND deleted_at IS NULL AND reblog_of_id IS NULL),
		(SELECT count(DISTINCT lower(domain)) FROM accounts WHERE domain IS NOT NULL),
		(SELECT count(DISTINCT account_id) FROM statuses WHERE local AND created_at > ?1)`,
		time.Now().Add(-30*24*time.Hour).UnixMicro()).
		Scan(&st.Users, &st.Statuses, &st.Domains, &st.ActiveMonth)
	if err != nil {
		return st, fmt.Errorf("sqlite: instance stats: %w", err)
	}
	return st, nil
}
