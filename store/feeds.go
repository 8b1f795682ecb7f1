package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// AddStatusToFeeds materialises a status into the home feed of every local
// account that should see it, in one set-wise statement: its local author
// and the local accepted followers of its author, for any visibility but
// direct. The primary key makes a replay add nothing; a deleted status adds
// nothing. It returns the number of rows added.
func (db *DB) AddStatusToFeeds(ctx context.Context, statusID int64) (int64, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO home_feed (account_id, status_id)
		SELECT f.follower_id, s.id
		  FROM statuses s
		  JOIN follows f ON f.followee_id = s.account_id AND f.accepted
		  JOIN accounts r ON r.id = f.follower_id AND r.domain IS NULL
		 WHERE s.id = $1 AND s.deleted_at IS NULL AND s.visibility <> 'direct'
		UNION
		SELECT s.account_id, s.id FROM statuses s
		 WHERE s.id = $1 AND s.local AND s.deleted_at IS NULL
		ON CONFLICT DO NOTHING`, statusID)
	if err != nil {
		return 0, fmt.Errorf("add status %d to feeds: %w", statusID, err)
	}
	return tag.RowsAffected(), nil
}

// RemoveStatusFromFeeds deletes a status from every home feed.
func (db *DB) RemoveStatusFromFeeds(ctx context.Context, statusID int64) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM home_feed WHERE status_id = $1`, statusID)
	if err != nil {
		return 0, fmt.Errorf("remove status %d from feeds: %w", statusID, err)
	}
	return tag.RowsAffected(), nil
}

// Page selects a window of a timeline the way Mastodon does: MaxID and
// SinceID bound it from above and below, newest first; MinID returns the
// statuses just above it, oldest of them first, then reversed so the page
// still reads newest first.
type Page struct {
	MaxID, SinceID, MinID int64
	Limit                 int
}

// HomeFeed reads a page of accountID's home timeline with its authors, in
// one query served by the feed's primary key.
func (db *DB) HomeFeed(ctx context.Context, accountID int64, p Page) ([]*Status, error) {
	order := "DESC"
	lower := p.SinceID
	if p.MinID > 0 {
		order, lower = "ASC", p.MinID
	}
	upper := p.MaxID
	if upper <= 0 {
		upper = 1<<63 - 1
	}
	rows, err := db.pool.Query(ctx, statusJoin+`
		JOIN home_feed h ON h.status_id = s.id
		WHERE h.account_id = $1 AND h.status_id < $2 AND h.status_id > $3 AND s.deleted_at IS NULL
		ORDER BY h.status_id `+order+` LIMIT $4`, accountID, upper, lower, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("home feed of %d: %w", accountID, err)
	}
	statuses, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Status, error) { return scanStatusWithAccount(row) })
	if err != nil {
		return nil, fmt.Errorf("home feed of %d: %w", accountID, err)
	}
	if order == "ASC" {
		for i, j := 0, len(statuses)-1; i < j; i, j = i+1, j-1 {
			statuses[i], statuses[j] = statuses[j], statuses[i]
		}
	}
	return statuses, nil
}

// CountFeedEntries counts how often statusID stands in accountID's feed (0 or 1).
func (db *DB) CountFeedEntries(ctx context.Context, accountID, statusID int64) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM home_feed WHERE account_id = $1 AND status_id = $2`,
		accountID, statusID).Scan(&n)
	return n, err
}
