package sqlite

import (
	"context"
	"fmt"

	"github.com/starling-social/starling"
)

// InsertInboxActivity stores a received activity once, keyed by its id, with
// the event that hands it to processing. A second delivery of the same
// activity changes nothing and reports false.
func (db *DB) InsertInboxActivity(ctx context.Context, a *starling.InboxActivity, events ...starling.Event) (bool, error) {
	var inserted bool
	err := db.inTx(ctx, func(t *tx) error {
		payload := a.Payload
		if payload == nil {
			payload = []byte{}
		}
		n, err := affected(t.ExecContext(ctx, `INSERT INTO inbox_activities (id, uri, type, actor_uri, payload, forwarded_by)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (uri) DO NOTHING`,
			a.ID, a.URI, a.Type, a.ActorURI, payload, nullIfEmpty(a.ForwardedBy)))
		if err != nil || n == 0 {
			return err
		}
		inserted = true
		return appendEvents(ctx, t, events...)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: insert inbox activity %s: %w", a.URI, err)
	}
	return inserted, nil
}

// InboxActivityByID returns ErrNotFound when there is no such activity.
func (db *DB) InboxActivityByID(ctx context.Context, id int64) (*starling.InboxActivity, error) {
	var a starling.InboxActivity
	err := db.read.QueryRowContext(ctx, `SELECT id, uri, type, actor_uri, payload, coalesce(forwarded_by, ''), received_at, processed_at
		FROM inbox_activities WHERE id = ?1`, id).
		Scan(&a.ID, &a.URI, &a.Type, &a.ActorURI, &a.Payload, &a.ForwardedBy, ts(&a.ReceivedAt), ts(&a.ProcessedAt))
	if notFound(err) {
		return nil, fmt.Errorf("sqlite: inbox activity %d: %w", id, starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbox activity %d: %w", id, err)
	}
	return &a, nil
}

// MarkInboxProcessed records that the activity's effects are committed.
func (db *DB) MarkInboxProcessed(ctx context.Context, id int64) error {
	_, err := db.exec(ctx, `UPDATE inbox_activities SET processed_at = ?2 WHERE id = ?1 AND processed_at IS NULL`, id, nowMicro())
	if err != nil {
		return fmt.Errorf("sqlite: mark inbox activity %d processed: %w", id, err)
	}
	return nil
}

// CountInboxActivities counts stored activities with that id; tests use it
// to show a replay stored nothing new.
func (db *DB) CountInboxActivities(ctx context.Context, uri string) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM inbox_activities WHERE uri = ?1`, uri).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count inbox activities: %w", err)
	}
	return n, nil
}
