package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

// InsertDeadLetter records a delivery that will not be tried again.
func (db *DB) InsertDeadLetter(ctx context.Context, d *starling.DeadLetter) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO dead_letters (activity_id, actor_id, inbox, host, attempts,
		first_error, last_error, first_failed_at, last_failed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, created_at`,
		d.ActivityID, d.ActorID, d.Inbox, d.Host, d.Attempts, d.FirstError, d.LastError,
		d.FirstFailedAt, d.LastFailedAt).Scan(&d.ID, &d.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert dead letter for %s: %w", d.Inbox, err)
	}
	return nil
}

// DeadLetters lists dead letters, newest first.
func (db *DB) DeadLetters(ctx context.Context, f starling.DeadLetterFilter) ([]starling.DeadLetter, error) {
	return db.deadLetters(ctx, db.pool, f, "")
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (db *DB) deadLetters(ctx context.Context, q querier, f starling.DeadLetterFilter, lock string) ([]starling.DeadLetter, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := q.Query(ctx, `SELECT id, activity_id, actor_id, inbox, host, attempts, first_error, last_error,
		first_failed_at, last_failed_at, created_at, coalesce(replayed_at, 'epoch'::timestamptz)
		FROM dead_letters
		WHERE ($1 = '' OR host = $1) AND (coalesce(cardinality($2::bigint[]), 0) = 0 OR id = ANY($2))
		  AND (replayed_at IS NOT NULL) = $3
		  AND ($5::bigint = 0 OR activity_id IN (SELECT a.id FROM statuses s JOIN activities a ON a.object_uri = s.uri WHERE s.id = $5))
		ORDER BY id DESC LIMIT $4`+lock, f.Host, f.IDs, f.Replayed, f.Limit, f.StatusID)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (starling.DeadLetter, error) {
		var d starling.DeadLetter
		err := row.Scan(&d.ID, &d.ActivityID, &d.ActorID, &d.Inbox, &d.Host, &d.Attempts, &d.FirstError, &d.LastError,
			&d.FirstFailedAt, &d.LastFailedAt, &d.CreatedAt, &d.ReplayedAt)
		if d.ReplayedAt.Unix() == 0 {
			d.ReplayedAt = time.Time{}
		}
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return out, nil
}

// ReplayDeadLetters queues again the dead letters f selects (not yet
// replayed), with the events event builds for each, and marks them
// replayed, in one transaction. It returns how many were replayed.
func (db *DB) ReplayDeadLetters(ctx context.Context, f starling.DeadLetterFilter, event func(starling.DeadLetter) (starling.Event, error)) (int, error) {
	f.Replayed = false
	var n int
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		list, err := db.deadLetters(ctx, tx, f, " FOR UPDATE SKIP LOCKED")
		if err != nil {
			return err
		}
		ids := make([]int64, 0, len(list))
		for _, d := range list {
			ev, err := event(d)
			if err != nil {
				return err
			}
			if err := appendEvents(ctx, tx, ev); err != nil {
				return err
			}
			ids = append(ids, d.ID)
		}
		if _, err := tx.Exec(ctx, `UPDATE dead_letters SET replayed_at = now() WHERE id = ANY($1)`, ids); err != nil {
			return err
		}
		// Their deliveries are pending again, for the backlog and the trace.
		_, err = tx.Exec(ctx, `UPDATE deliveries d SET state = 'pending', next_attempt_at = NULL
			FROM dead_letters l WHERE l.id = ANY($1) AND d.activity_id = l.activity_id AND d.inbox = l.inbox`, ids)
		n = len(ids)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("replay dead letters: %w", err)
	}
	return n, nil
}

// RecordHostFailure notes a failed delivery to host. A new calendar day
// of failure counts once; after unavailableAfter distinct days with no
// success the host becomes unavailable. It reports whether this call made
// it so.
func (db *DB) RecordHostFailure(ctx context.Context, host, lastError string, unavailableAfter int) (bool, error) {
	var became bool
	err := db.pool.QueryRow(ctx, `INSERT INTO delivery_hosts AS h (host, failure_days, last_failure_on,
			first_failed_at, last_failed_at, last_error)
		VALUES ($1, 1, current_date, now(), now(), $2)
		ON CONFLICT (host) DO UPDATE SET
			failure_days = h.failure_days + (h.last_failure_on IS DISTINCT FROM current_date)::int,
			last_failure_on = current_date,
			first_failed_at = coalesce(h.first_failed_at, now()),
			last_failed_at = now(),
			last_error = $2,
			unavailable = h.unavailable OR h.failure_days + (h.last_failure_on IS DISTINCT FROM current_date)::int >= $3
		RETURNING unavailable AND NOT coalesce((SELECT unavailable FROM delivery_hosts WHERE host = $1), false)`,
		host, lastError, unavailableAfter).Scan(&became)
	if err != nil {
		return false, fmt.Errorf("record failure of %s: %w", host, err)
	}
	return became, nil
}

// RecordHostSuccess clears a host's failures: any successful delivery
// shows it is back.
func (db *DB) RecordHostSuccess(ctx context.Context, host string) error {
	_, err := db.pool.Exec(ctx, `UPDATE delivery_hosts SET failure_days = 0, last_failure_on = NULL,
		first_failed_at = NULL, unavailable = false, last_success_at = now() WHERE host = $1`, host)
	if err != nil {
		return fmt.Errorf("record success of %s: %w", host, err)
	}
	return nil
}

// FailingHosts returns the hosts with failures on record.
func (db *DB) FailingHosts(ctx context.Context) ([]starling.HostHealth, error) {
	rows, err := db.pool.Query(ctx, `SELECT host, failure_days, coalesce(first_failed_at, 'epoch'::timestamptz),
		coalesce(last_failed_at, 'epoch'::timestamptz), last_error,
		coalesce(last_success_at, 'epoch'::timestamptz), unavailable
		FROM delivery_hosts WHERE failure_days > 0 OR unavailable ORDER BY unavailable DESC, failure_days DESC, host`)
	if err != nil {
		return nil, fmt.Errorf("failing hosts: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (starling.HostHealth, error) {
		var h starling.HostHealth
		err := row.Scan(&h.Host, &h.FailureDays, &h.FirstFailedAt, &h.LastFailedAt, &h.LastError, &h.LastSuccessAt, &h.Unavailable)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("failing hosts: %w", err)
	}
	return list, nil
}

// SetActivityAudience records the inboxes an activity was fanned out to.
// An empty audience is recorded as such: it is an answer, not a missing one.
func (db *DB) SetActivityAudience(ctx context.Context, activityID int64, inboxes []string) error {
	if inboxes == nil {
		inboxes = []string{} // pgx sends a nil slice as NULL, which the column refuses
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO activity_audiences (activity_id, inboxes) VALUES ($1, $2)
		ON CONFLICT (activity_id) DO UPDATE SET inboxes = EXCLUDED.inboxes`, activityID, inboxes)
	if err != nil {
		return fmt.Errorf("set audience of %d: %w", activityID, err)
	}
	return nil
}

// AudienceOf returns the inboxes the activity of that type about objectURI
// was fanned out to (the Create of a status, say); ErrNotFound if none was recorded.
func (db *DB) AudienceOf(ctx context.Context, typ, objectURI string) ([]string, error) {
	var inboxes []string
	err := db.pool.QueryRow(ctx, `SELECT au.inboxes FROM activities a JOIN activity_audiences au ON au.activity_id = a.id
		WHERE a.type = $1 AND a.object_uri = $2 ORDER BY a.id DESC LIMIT 1`, typ, objectURI).Scan(&inboxes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("audience of %s %s: %w", typ, objectURI, starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("audience of %s %s: %w", typ, objectURI, err)
	}
	return inboxes, nil
}

// StatusGone reports whether the status uri was deleted (or never existed).
func (db *DB) StatusGone(ctx context.Context, uri string) (bool, error) {
	var live bool
	err := db.pool.QueryRow(ctx, `SELECT deleted_at IS NULL FROM statuses WHERE uri = $1`, uri).Scan(&live)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("status gone %s: %w", uri, err)
	}
	return !live, nil
}

// MarkInboxGone records that inbox answered 410 Gone: its actor is gone,
// and fanout stops addressing it.
func (db *DB) MarkInboxGone(ctx context.Context, inbox string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO gone_inboxes (inbox) VALUES ($1) ON CONFLICT (inbox) DO NOTHING`, inbox)
	if err != nil {
		return fmt.Errorf("mark %s gone: %w", inbox, err)
	}
	return nil
}

// ClearInboxGone forgets a 410 once a delivery to inbox succeeded.
func (db *DB) ClearInboxGone(ctx context.Context, inbox string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM gone_inboxes WHERE inbox = $1`, inbox)
	if err != nil {
		return fmt.Errorf("clear gone %s: %w", inbox, err)
	}
	return nil
}
