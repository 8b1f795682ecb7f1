package sqlite

import (
	"context"
	"fmt"

	"github.com/starling-social/starling"
)

func insertActivity(ctx context.Context, t *tx, a *starling.Activity) (bool, error) {
	payload := a.Payload
	if payload == nil {
		payload = []byte{}
	}
	n, err := affected(t.ExecContext(ctx, `INSERT INTO activities (id, uri, type, actor_id, object_uri, payload)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (uri) DO NOTHING`,
		a.ID, a.URI, a.Type, a.ActorID, a.ObjectURI, payload))
	if err != nil {
		return false, fmt.Errorf("insert activity %s: %w", a.URI, err)
	}
	return n == 1, nil
}

// recordActivity stores act, if any (a change that federates), and the
// events announcing the change within t.
func recordActivity(ctx context.Context, t *tx, act *starling.Activity, events []starling.Event) error {
	if act != nil {
		if _, err := insertActivity(ctx, t, act); err != nil {
			return err
		}
	}
	return appendEvents(ctx, t, events...)
}

// InsertActivity stores an activity with its events, once: when an activity
// with that URI exists it changes nothing and reports false, which is what
// makes a deterministic URI (an Accept of a given Follow) idempotent.
func (db *DB) InsertActivity(ctx context.Context, a *starling.Activity, events ...starling.Event) (bool, error) {
	var inserted bool
	err := db.inTx(ctx, func(t *tx) error {
		var err error
		if inserted, err = insertActivity(ctx, t, a); err != nil || !inserted {
			return err
		}
		return appendEvents(ctx, t, events...)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return inserted, nil
}

// ActivityByID returns ErrNotFound when there is no such activity.
func (db *DB) ActivityByID(ctx context.Context, id int64) (*starling.Activity, error) {
	var a starling.Activity
	err := db.read.QueryRowContext(ctx, `SELECT id, uri, type, actor_id, object_uri, payload, created_at
		FROM activities WHERE id = ?1`, id).
		Scan(&a.ID, &a.URI, &a.Type, &a.ActorID, &a.ObjectURI, &a.Payload, ts(&a.CreatedAt))
	if notFound(err) {
		return nil, fmt.Errorf("sqlite: activity %d: %w", id, starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: activity %d: %w", id, err)
	}
	return &a, nil
}
