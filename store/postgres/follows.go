package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

const followColumns = `id, follower_id, followee_id, uri, accepted, created_at`

func scanFollow(row pgx.Row) (*starling.Follow, error) {
	var f starling.Follow
	err := row.Scan(&f.ID, &f.FollowerID, &f.FolloweeID, &f.URI, &f.Accepted, &f.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, starling.ErrNotFound
	}
	return &f, err
}

// FollowBetween returns the follow of follower to followee, pending or accepted.
func (db *DB) FollowBetween(ctx context.Context, followerID, followeeID int64) (*starling.Follow, error) {
	f, err := scanFollow(db.pool.QueryRow(ctx, `SELECT `+followColumns+` FROM follows
		WHERE follower_id = $1 AND followee_id = $2`, followerID, followeeID))
	if err != nil {
		return nil, fmt.Errorf("follow between %d and %d: %w", followerID, followeeID, err)
	}
	return f, nil
}

// FollowByURI returns the follow made by the Follow activity uri.
func (db *DB) FollowByURI(ctx context.Context, uri string) (*starling.Follow, error) {
	f, err := scanFollow(db.pool.QueryRow(ctx, `SELECT `+followColumns+` FROM follows WHERE uri = $1`, uri))
	if err != nil {
		return nil, fmt.Errorf("follow by uri: %w", err)
	}
	return f, nil
}

// CreateFollow stores a follow request made by a local account, with its
// Follow activity (nil for a local followee, where nothing federates) and
// events, in one transaction. When the two accounts already have a follow
// it changes nothing, appends no event, and returns the existing one with
// created false.
func (db *DB) CreateFollow(ctx context.Context, f *starling.Follow, act *starling.Activity, events ...starling.Event) (got *starling.Follow, created bool, err error) {
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO follows (id, follower_id, followee_id, uri, accepted)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (follower_id, followee_id) DO NOTHING`,
			f.ID, f.FollowerID, f.FolloweeID, f.URI, f.Accepted)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			got, err = scanFollow(tx.QueryRow(ctx, `SELECT `+followColumns+` FROM follows
				WHERE follower_id = $1 AND followee_id = $2`, f.FollowerID, f.FolloweeID))
			return err
		}
		got, created = f, true
		return recordActivity(ctx, tx, act, events)
	})
	if err != nil {
		return nil, false, fmt.Errorf("create follow: %w", err)
	}
	return got, created, nil
}

// DeleteFollow removes the follow id and, if it existed, stores the Undo
// activity (if any) and the events with it. It reports whether a follow
// was removed.
func (db *DB) DeleteFollow(ctx context.Context, id int64, act *starling.Activity, events ...starling.Event) (bool, error) {
	var deleted bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM follows WHERE id = $1`, id)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		deleted = true
		return recordActivity(ctx, tx, act, events)
	})
	if err != nil {
		return false, fmt.Errorf("delete follow %d: %w", id, err)
	}
	return deleted, nil
}

// UpsertRemoteFollow records a Follow received from another server. A
// repeated Follow between the same accounts keeps the row and takes the new
// activity id, since the remote will refer to it in a later Undo.
func (db *DB) UpsertRemoteFollow(ctx context.Context, f *starling.Follow) (*starling.Follow, error) {
	got, err := scanFollow(db.pool.QueryRow(ctx, `INSERT INTO follows (id, follower_id, followee_id, uri, accepted)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (follower_id, followee_id) DO UPDATE SET uri = EXCLUDED.uri
		RETURNING `+followColumns, f.ID, f.FollowerID, f.FolloweeID, f.URI, f.Accepted))
	if err != nil {
		return nil, fmt.Errorf("upsert remote follow %s: %w", f.URI, err)
	}
	return got, nil
}

// AcceptFollow marks the follow id accepted. It reports whether it changed.
func (db *DB) AcceptFollow(ctx context.Context, id int64) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE follows SET accepted = true WHERE id = $1 AND NOT accepted`, id)
	if err != nil {
		return false, fmt.Errorf("accept follow %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// FollowerInboxes returns the distinct inboxes of accountID's accepted remote
// followers, collapsed onto shared inboxes: a server with a thousand
// followers of the account appears once. Inboxes that answered 410 Gone
// are left out. Only follows made at or before asOf count (the zero time:
// all), so an activity goes to the followers its author had when it was
// made, never to someone who followed later.
func (db *DB) FollowerInboxes(ctx context.Context, accountID int64, asOf time.Time) ([]string, error) {
	var before any
	if !asOf.IsZero() {
		before = asOf
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT coalesce(nullif(a.shared_inbox_url, ''), a.inbox_url)
		FROM follows f JOIN accounts a ON a.id = f.follower_id
		WHERE f.followee_id = $1 AND f.accepted AND a.domain IS NOT NULL
		  AND ($2::timestamptz IS NULL OR f.created_at <= $2)
		  AND coalesce(nullif(a.shared_inbox_url, ''), a.inbox_url) <> ''
		  AND NOT EXISTS (SELECT 1 FROM gone_inboxes g
		                   WHERE g.inbox = coalesce(nullif(a.shared_inbox_url, ''), a.inbox_url))`, accountID, before)
	if err != nil {
		return nil, fmt.Errorf("follower inboxes of %d: %w", accountID, err)
	}
	inboxes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("follower inboxes of %d: %w", accountID, err)
	}
	return inboxes, nil
}

// Relationships returns viewer's relationship to each of ids, in order.
func (db *DB) Relationships(ctx context.Context, viewer int64, ids []int64) ([]starling.Relationship, error) {
	out := make([]starling.Relationship, len(ids))
	index := make(map[int64][]int, len(ids))
	for i, id := range ids {
		out[i].ID = id
		index[id] = append(index[id], i)
	}
	rows, err := db.pool.Query(ctx, `SELECT follower_id, followee_id, accepted FROM follows
		WHERE (follower_id = $1 AND followee_id = ANY($2)) OR (followee_id = $1 AND follower_id = ANY($2))`,
		viewer, ids)
	if err != nil {
		return nil, fmt.Errorf("relationships: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to int64
		var accepted bool
		if err := rows.Scan(&from, &to, &accepted); err != nil {
			return nil, fmt.Errorf("relationships: %w", err)
		}
		if from == viewer {
			for _, i := range index[to] {
				out[i].Following = out[i].Following || accepted
				out[i].Requested = out[i].Requested || !accepted
			}
		}
		if to == viewer {
			for _, i := range index[from] {
				out[i].FollowedBy = out[i].FollowedBy || accepted
				out[i].RequestedBy = out[i].RequestedBy || !accepted
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("relationships: %w", err)
	}
	rows, err = db.pool.Query(ctx, `SELECT a.id,
		EXISTS (SELECT 1 FROM blocks WHERE account_id = $1 AND target_account_id = a.id),
		EXISTS (SELECT 1 FROM blocks WHERE account_id = a.id AND target_account_id = $1),
		EXISTS (SELECT 1 FROM mutes WHERE account_id = $1 AND target_account_id = a.id),
		a.domain IS NOT NULL AND EXISTS (SELECT 1 FROM domain_blocks WHERE account_id = $1 AND domain = lower(a.domain))
		FROM accounts a WHERE a.id = ANY($2)`, viewer, ids)
	if err != nil {
		return nil, fmt.Errorf("relationships: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var f starling.Filters
		if err := rows.Scan(&id, &f.Blocking, &f.BlockedBy, &f.Muting, &f.DomainBlocking); err != nil {
			return nil, fmt.Errorf("relationships: %w", err)
		}
		for _, i := range index[id] {
			out[i].Filters = f
		}
	}
	return out, rows.Err()
}

// FollowCollection lists the actor URIs of accountID's accepted followers
// (followers true) or follows, newest first.
func (db *DB) FollowCollection(ctx context.Context, accountID int64, followers bool, limit int) ([]string, error) {
	q := `SELECT a.uri FROM follows f JOIN accounts a ON a.id = f.follower_id
		WHERE f.followee_id = $1 AND f.accepted ORDER BY f.id DESC LIMIT $2`
	if !followers {
		q = `SELECT a.uri FROM follows f JOIN accounts a ON a.id = f.followee_id
		WHERE f.follower_id = $1 AND f.accepted ORDER BY f.id DESC LIMIT $2`
	}
	rows, err := db.pool.Query(ctx, q, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("follow collection of %d: %w", accountID, err)
	}
	uris, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("follow collection of %d: %w", accountID, err)
	}
	return uris, nil
}

// FollowersAmong returns those of ids that follow accountID (accepted).
func (db *DB) FollowersAmong(ctx context.Context, accountID int64, ids []int64) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT follower_id FROM follows
		WHERE followee_id = $1 AND accepted AND follower_id = ANY($2)`, accountID, ids)
	if err != nil {
		return nil, fmt.Errorf("followers of %d among %d: %w", accountID, len(ids), err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("followers of %d among %d: %w", accountID, len(ids), err)
	}
	return out, nil
}

// AnswerFollowRequest accepts (accept) or removes a pending follow id,
// storing the answer's activity (nil for a local follower) and events with
// it. It reports false, storing nothing, when the follow is not pending.
func (db *DB) AnswerFollowRequest(ctx context.Context, id int64, accept bool, act *starling.Activity, events ...starling.Event) (bool, error) {
	var answered bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		q := `DELETE FROM follows WHERE id = $1 AND NOT accepted`
		if accept {
			q = `UPDATE follows SET accepted = true WHERE id = $1 AND NOT accepted`
		}
		tag, err := tx.Exec(ctx, q, id)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		answered = true
		return recordActivity(ctx, tx, act, events)
	})
	if err != nil {
		return false, fmt.Errorf("answer follow request %d: %w", id, err)
	}
	return answered, nil
}
