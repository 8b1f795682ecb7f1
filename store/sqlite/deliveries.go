package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

// InsertDeadLetter records a delivery that will not be tried again.
func (db *DB) InsertDeadLetter(ctx context.Context, d *starling.DeadLetter) error {
	err := db.inTx(ctx, func(t *tx) error {
		return t.QueryRowContext(ctx, `INSERT INTO dead_letters (activity_id, actor_id, inbox, host, attempts,
		first_error, last_error, first_failed_at, last_failed_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id, created_at`,
			d.ActivityID, d.ActorID, d.Inbox, d.Host, d.Attempts, d.FirstError, d.LastError,
			micro(d.FirstFailedAt), micro(d.LastFailedAt)).Scan(&d.ID, ts(&d.CreatedAt))
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert dead letter for %s: %w", d.Inbox, err)
	}
	return nil
}

// DeadLetters lists dead letters, newest first.
func (db *DB) DeadLetters(ctx context.Context, f starling.DeadLetterFilter) ([]starling.DeadLetter, error) {
	out, err := deadLetters(ctx, db.read, f)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return out, nil
}

func deadLetters(ctx context.Context, q queryer, f starling.DeadLetterFilter) ([]starling.DeadLetter, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := q.QueryContext(ctx, `SELECT id, activity_id, actor_id, inbox, host, attempts, first_error, last_error,
		first_failed_at, last_failed_at, created_at, replayed_at
		FROM dead_letters
		WHERE (?1 = '' OR host = ?1) AND (json_array_length(?2) = 0 OR id IN (SELECT value FROM json_each(?2)))
		  AND (replayed_at IS NOT NULL) = ?3
		  AND (?5 = 0 OR activity_id IN (SELECT a.id FROM statuses s JOIN activities a ON a.object_uri = s.uri WHERE s.id = ?5))
		ORDER BY id DESC LIMIT ?4`, f.Host, ids(f.IDs), f.Replayed, f.Limit, f.StatusID)
	out, err := collect(rows, err, func(r scanner) (starling.DeadLetter, error) {
		var d starling.DeadLetter
		err := r.Scan(&d.ID, &d.ActivityID, &d.ActorID, &d.Inbox, &d.Host, &d.Attempts, &d.FirstError, &d.LastError,
			ts(&d.FirstFailedAt), ts(&d.LastFailedAt), ts(&d.CreatedAt), ts(&d.ReplayedAt))
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
	err := db.inTx(ctx, func(t *tx) error {
		list, err := deadLetters(ctx, t, f)
		if err != nil {
			return err
		}
		replayed := make([]int64, 0, len(list))
		for _, d := range list {
			ev, err := event(d)
			if err != nil {
				return err
			}
			if err := appendEvents(ctx, t, ev); err != nil {
				return err
			}
			replayed = append(replayed, d.ID)
		}
		if _, err := t.ExecContext(ctx, `UPDATE dead_letters SET replayed_at = ?2 WHERE id IN (SELECT value FROM json_each(?1))`,
			ids(replayed), nowMicro()); err != nil {
			return err
		}
		// Their deliveries are pending again, for the backlog and the trace.
		_, err = t.ExecContext(ctx, `UPDATE deliveries SET state = 'pending', next_attempt_at = NULL
			FROM dead_letters l WHERE l.id IN (SELECT value FROM json_each(?1))
			  AND deliveries.activity_id = l.activity_id AND deliveries.inbox = l.inbox`, ids(replayed))
		n = len(replayed)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: replay dead letters: %w", err)
	}
	return n, nil
}

// RecordHostFailure notes a failed delivery to host. A new calendar day
// (UTC) of failure counts once; after unavailableAfter distinct days with
// no success the host becomes unavailable. It reports whether this call
// made it so.
func (db *DB) RecordHostFailure(ctx context.Context, host, lastError string, unavailableAfter int) (bool, error) {
	var became bool
	err := db.inTx(ctx, func(t *tx) error {
		var was bool
		err := t.QueryRowContext(ctx, `SELECT unavailable FROM delivery_hosts WHERE host = ?1`, host).Scan(&was)
		if err != nil && !notFound(err) {
			return err
		}
		now := time.Now()
		var unavailable bool
		err = t.QueryRowContext(ctx, `INSERT INTO delivery_hosts AS h (host, failure_days, last_failure_on,
				first_failed_at, last_failed_at, last_error)
			VALUES (?1, 1, ?4, ?5, ?5, ?2)
			ON CONFLICT (host) DO UPDATE SET
				failure_days = h.failure_days + (h.last_failure_on IS NOT ?4),
				last_failure_on = ?4,
				first_failed_at = coalesce(h.first_failed_at, ?5),
				last_failed_at = ?5,
				last_error = ?2,
				unavailable = h.unavailable OR h.failure_days + (h.last_failure_on IS NOT ?4) >= ?3
			RETURNING unavailable`,
			host, lastError, unavailableAfter, now.UTC().Format(time.DateOnly), now.UnixMicro()).Scan(&unavailable)
		became = unavailable && !was
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: record failure of %s: %w", host, err)
	}
	return became, nil
}

// RecordHostSuccess clears a host's failures: any successful delivery
// shows it is back.
func (db *DB) RecordHostSuccess(ctx context.Context, host string) error {
	_, err := db.exec(ctx, `UPDATE delivery_hosts SET failure_days = 0, last_failure_on = NULL,
		first_failed_at = NULL, unavailable = 0, last_success_at = ?2 WHERE host = ?1`, host, nowMicro())
	if err != nil {
		return fmt.Errorf("sqlite: record success of %s: %w", host, err)
	}
	return nil
}

// FailingHosts returns the hosts with failures on record.
func (db *DB) FailingHosts(ctx context.Context) ([]starling.HostHealth, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT host, failure_days, first_failed_at, last_failed_at, last_error,
		last_success_at, unavailable
		FROM delivery_hosts WHERE failure_days > 0 OR unavailable ORDER BY unavailable DESC, failure_days DESC, host`)
	out, err := collect(rows, err, func(r scanner) (starling.HostHealth, error) {
		var h starling.HostHealth
		err := r.Scan(&h.Host, &h.FailureDays, ts(&h.FirstFailedAt), ts(&h.LastFailedAt), &h.LastError, ts(&h.LastSuccessAt), &h.Unavailable)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: failing hosts: %w", err)
	}
	return out, nil
}

// SetActivityAudience records the inboxes an activity was fanned out to.
// An empty audience is recorded as such: it is an answer, not a missing one.
func (db *DB) SetActivityAudience(ctx context.Context, activityID int64, inboxes []string) error {
	_, err := db.exec(ctx, `INSERT INTO activity_audiences (activity_id, inboxes) VALUES (?1, ?2)
		ON CONFLICT (activity_id) DO UPDATE SET inboxes = excluded.inboxes`, activityID, strs(inboxes))
	if err != nil {
		return fmt.Errorf("sqlite: set audience of %d: %w", activityID, err)
	}
	return nil
}

// AudienceOf returns the inboxes the activity of that type about objectURI
// was fanned out to; ErrNotFound if none was recorded.
func (db *DB) AudienceOf(ctx context.Context, typ, objectURI string) ([]string, error) {
	var inboxes []string
	err := db.read.QueryRowContext(ctx, `SELECT au.inboxes FROM activities a JOIN activity_audiences au ON au.activity_id = a.id
		WHERE a.type = ?1 AND a.object_uri = ?2 ORDER BY a.id DESC LIMIT 1`, typ, objectURI).Scan(jsonOf(&inboxes))
	if notFound(err) {
		return nil, fmt.Errorf("sqlite: audience of %s %s: %w", typ, objectURI, starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: audience of %s %s: %w", typ, objectURI, err)
	}
	return inboxes, nil
}

// StatusGone reports whether the status uri was deleted (or never existed).
func (db *DB) StatusGone(ctx context.Context, uri string) (bool, error) {
	var live bool
	err := db.read.QueryRowContext(ctx, `SELECT deleted_at IS NULL FROM statuses WHERE uri = ?1`, uri).Scan(&live)
	if notFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: status gone %s: %w", uri, err)
	}
	return !live, nil
}

// MarkInboxGone records that inbox answered 410 Gone: its actor is gone,
// and fanout stops addressing it.
func (db *DB) MarkInboxGone(ctx context.Context, inbox string) error {
	if _, err := db.exec(ctx, `INSERT INTO gone_inboxes (inbox) VALUES (?1) ON CONFLICT (inbox) DO NOTHING`, inbox); err != nil {
		return fmt.Errorf("sqlite: mark %s gone: %w", inbox, err)
	}
	return nil
}

// ClearInboxGone forgets a 410 once a delivery to inbox succeeded.
func (db *DB) ClearInboxGone(ctx context.Context, inbox string) error {
	if _, err := db.exec(ctx, `DELETE FROM gone_inboxes WHERE inbox = ?1`, inbox); err != nil {
		return fmt.Errorf("sqlite: clear gone %s: %w", inbox, err)
	}
	return nil
}
