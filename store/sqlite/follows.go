package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

const followColumns = `id, follower_id, followee_id, uri, accepted, created_at`

func scanFollow(row scanner) (*starling.Follow, error) {
	var f starling.Follow
	err := row.Scan(&f.ID, &f.FollowerID, &f.FolloweeID, &f.URI, &f.Accepted, ts(&f.CreatedAt))
	if notFound(err) {
		return nil, starling.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// FollowBetween returns the follow of follower to followee, pending or accepted.
func (db *DB) FollowBetween(ctx context.Context, followerID, followeeID int64) (*starling.Follow, error) {
	f, err := scanFollow(db.read.QueryRowContext(ctx, `SELECT `+followColumns+` FROM follows
		WHERE follower_id = ?1 AND followee_id = ?2`, followerID, followeeID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: follow between %d and %d: %w", followerID, followeeID, err)
	}
	return f, nil
}

// FollowByURI returns the follow made by the Follow activity uri.
func (db *DB) FollowByURI(ctx context.Context, uri string) (*starling.Follow, error) {
	f, err := scanFollow(db.read.QueryRowContext(ctx, `SELECT `+followColumns+` FROM follows WHERE uri = ?1`, uri))
	if err != nil {
		return nil, fmt.Errorf("sqlite: follow by uri: %w", err)
	}
	return f, nil
}

// CreateFollow stores a follow request made by a local account, with its
// Follow activity (nil for a local followee) and events, in one
// transaction. When the two accounts already have a follow it changes
// nothing, appends no event, and returns the existing one with created false.
func (db *DB) CreateFollow(ctx context.Context, f *starling.Follow, act *starling.Activity, events ...starling.Event) (got *starling.Follow, created bool, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `INSERT INTO follows (id, follower_id, followee_id, uri, accepted, created_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (follower_id, followee_id) DO NOTHING`,
			f.ID, f.FollowerID, f.FolloweeID, f.URI, f.Accepted, nowMicro()))
		if err != nil {
			return err
		}
		if n == 0 {
			got, err = scanFollow(t.QueryRowContext(ctx, `SELECT `+followColumns+` FROM follows
				WHERE follower_id = ?1 AND followee_id = ?2`, f.FollowerID, f.FolloweeID))
			return err
		}
		got, created = f, true
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: create follow: %w", err)
	}
	return got, created, nil
}

// DeleteFollow removes the follow id and, if it existed, stores the Undo
// activity (if any) and the events with it. It reports whether a follow
// was removed.
func (db *DB) DeleteFollow(ctx context.Context, id int64, act *starling.Activity, events ...starling.Event) (bool, error) {
	var deleted bool
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `DELETE FROM follows WHERE id = ?1`, id))
		if err != nil || n == 0 {
			return err
		}
		deleted = true
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: delete follow %d: %w", id, err)
	}
	return deleted, nil
}

// UpsertRemoteFollow records a Follow received from another server. A
// repeated Follow between the same accounts keeps the row and takes the new
// activity id, since the remote will refer to it in a later Undo.
func (db *DB) UpsertRemoteFollow(ctx context.Context, f *starling.Follow) (*starling.Follow, error) {
	var got *starling.Follow
	err := db.inTx(ctx, func(t *tx) error {
		var err error
		got, err = scanFollow(t.QueryRowContext(ctx, `INSERT INTO follows (id, follower_id, followee_id, uri, accepted, created_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (follower_id, followee_id) DO UPDATE SET uri = excluded.uri
		RETURNING `+followColumns, f.ID, f.FollowerID, f.FolloweeID, f.URI, f.Accepted, nowMicro()))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: upsert remote follow %s: %w", f.URI, err)
	}
	return got, nil
}

// AcceptFollow marks the follow id accepted. It reports whether it changed.
func (db *DB) AcceptFollow(ctx context.Context, id int64) (bool, error) {
	n, err := db.exec(ctx, `UPDATE follows SET accepted = 1 WHERE id = ?1 AND NOT accepted`, id)
	if err != nil {
		return false, fmt.Errorf("sqlite: accept follow %d: %w", id, err)
	}
	return n == 1, nil
}

// FollowerInboxes returns the distinct inboxes of accountID's accepted remote
// followers, collapsed onto shared inboxes, without inboxes that answered
// 410 Gone. Only follows made at or before asOf count (the zero time: all).
func (db *DB) FollowerInboxes(ctx context.Context, accountID int64, asOf time.Time) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT coalesce(nullif(a.shared_inbox_url, ''), a.inbox_url)
		FROM follows f JOIN accounts a ON a.id = f.follower_id
		WHERE f.followee_id = ?1 AND f.accepted AND a.domain IS NOT NULL
		  AND (?2 IS NULL OR f.created_at <= ?2)
		  AND coalesce(nullif(a.shared_inbox_url, ''), a.inbox_url) <> ''
		  AND NOT EXISTS (SELECT 1 FROM gone_inboxes g
		                   WHERE g.inbox = coalesce(nullif(a.shared_inbox_url, ''), a.inbox_url))`, accountID, microOrNull(asOf))
	out, err := collect(rows, err, scanString)
	if err != nil {
		return nil, fmt.Errorf("sqlite: follower inboxes of %d: %w", accountID, err)
	}
	return out, nil
}

// Relationships returns viewer's relationship to each of ids, in order.
func (db *DB) Relationships(ctx context.Context, viewer int64, accountIDs []int64) ([]starling.Relationship, error) {
	out := make([]starling.Relationship, len(accountIDs))
	index := make(map[int64][]int, len(accountIDs))
	for i, id := range accountIDs {
		out[i].ID = id
		index[id] = append(index[id], i)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT follower_id, followee_id, accepted FROM follows
		WHERE (follower_id = ?1 AND followee_id IN (SELECT value FROM json_each(?2)))
		   OR (followee_id = ?1 AND follower_id IN (SELECT value FROM json_each(?2)))`,
		viewer, ids(accountIDs))
	type edge struct {
		from, to int64
		accepted bool
	}
	edges, err := collect(rows, err, func(r scanner) (edge, error) {
		var e edge
		err := r.Scan(&e.from, &e.to, &e.accepted)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: relationships: %w", err)
	}
	for _, e := range edges {
		if e.from == viewer {
			for _, i := range index[e.to] {
				out[i].Following = out[i].Following || e.accepted
				out[i].Requested = out[i].Requested || !e.accepted
			}
		}
		if e.to == viewer {
			for _, i := range index[e.from] {
				out[i].FollowedBy = out[i].FollowedBy || e.accepted
				out[i].RequestedBy = out[i].RequestedBy || !e.accepted
			}
		}
	}
	rows, err = db.read.QueryContext(ctx, `SELECT a.id,
		EXISTS (SELECT 1 FROM blocks WHERE account_id = ?1 AND target_account_id = a.id),
		EXISTS (SELECT 1 FROM blocks WHERE account_id = a.id AND target_account_id = ?1),
		EXISTS (SELECT 1 FROM mutes WHERE account_id = ?1 AND target_account_id = a.id),
		a.domain IS NOT NULL AND EXISTS (SELECT 1 FROM domain_blocks WHERE account_id = ?1 AND domain = lower(a.domain))
		FROM accounts a WHERE a.id IN (SELECT value FROM json_each(?2))`, viewer, ids(accountIDs))
	type filtered struct {
		id int64
		f  starling.Filters
	}
	filters, err := collect(rows, err, func(r scanner) (filtered, error) {
		var x filtered
		err := r.Scan(&x.id, &x.f.Blocking, &x.f.BlockedBy, &x.f.Muting, &x.f.DomainBlocking)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: relationships: %w", err)
	}
	for _, x := range filters {
		for _, i := range index[x.id] {
			out[i].Filters = x.f
		}
	}
	return out, nil
}

// FollowCollection lists the actor URIs of accountID's accepted followers
// (followers true) or follows, newest first.
func (db *DB) FollowCollection(ctx context.Context, accountID int64, followers bool, limit int) ([]string, error) {
	q := `SELECT a.uri FROM follows f JOIN accounts a ON a.id = f.follower_id
		WHERE f.followee_id = ?1 AND f.accepted ORDER BY f.id DESC LIMIT ?2`
	if !followers {
		q = `SELECT a.uri FROM follows f JOIN accounts a ON a.id = f.followee_id
		WHERE f.follower_id = ?1 AND f.accepted ORDER BY f.id DESC LIMIT ?2`
	}
	rows, err := db.read.QueryContext(ctx, q, accountID, limit)
	out, err := collect(rows, err, scanString)
	if err != nil {
		return nil, fmt.Errorf("sqlite: follow collection of %d: %w", accountID, err)
	}
	return out, nil
}

// FollowersAmong returns those of ids that follow accountID (accepted).
func (db *DB) FollowersAmong(ctx context.Context, accountID int64, accountIDs []int64) ([]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT follower_id FROM follows
		WHERE followee_id = ?1 AND accepted AND follower_id IN (SELECT value FROM json_each(?2))`, accountID, ids(accountIDs))
	out, err := collect(rows, err, scanInt64)
	if err != nil {
		return nil, fmt.Errorf("sqlite: followers of %d among %d: %w", accountID, len(accountIDs), err)
	}
	return out, nil
}

// AnswerFollowRequest accepts (accept) or removes a pending follow id,
// storing the answer's activity (nil for a local follower) and events with
// it. It reports false, storing nothing, when the follow is not pending.
func (db *DB) AnswerFollowRequest(ctx context.Context, id int64, accept bool, act *starling.Activity, events ...starling.Event) (bool, error) {
	var answered bool
	err := db.inTx(ctx, func(t *tx) error {
		q := `DELETE FROM follows WHERE id = ?1 AND NOT accepted`
		if accept {
			q = `UPDATE follows SET accepted = 1 WHERE id = ?1 AND NOT accepted`
		}
		n, err := affected(t.ExecContext(ctx, q, id))
		if err != nil || n == 0 {
			return err
		}
		answered = true
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: answer follow request %d: %w", id, err)
	}
	return answered, nil
}
