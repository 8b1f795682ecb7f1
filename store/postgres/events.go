package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

// streamOf is the SQL of an event's stream: the first two tokens of its
// subject, <prefix>.<kind> (index events_stream_due).
const streamOf = `split_part(subject, '.', 1) || '.' || split_part(subject, '.', 2)`

// RelayEvents hands up to limit unpublished events of stream (the first two
// tokens of their subjects, e.g. "starling.outbox") that are due, oldest first, to
// publish, and deletes them once publish returns nil, all in one
// transaction. Rows are claimed with SKIP LOCKED, so several relays (one per
// process) share the table without publishing a row twice at once; a relay
// that dies mid-publish leaves its rows for the next, and the stable msg_id
// lets JetStream drop the duplicate. It returns how many were published.
func (db *DB) RelayEvents(ctx context.Context, stream string, limit int, publish func(context.Context, []starling.Event) error) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT seq, msg_id, subject, payload, headers FROM events
			WHERE `+streamOf+` = $1 AND due_at <= now() ORDER BY due_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED`, stream, limit)
		if err != nil {
			return err
		}
		var seqs []int64
		var events []starling.Event
		for rows.Next() {
			var seq int64
			var ev starling.Event
			if err := rows.Scan(&seq, &ev.MsgID, &ev.Subject, &ev.Payload, &ev.Headers); err != nil {
				rows.Close()
				return err
			}
			seqs = append(seqs, seq)
			events = append(events, ev)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		if err := publish(ctx, events); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM events WHERE seq = ANY($1)`, seqs)
		n = len(events)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("relay events: %w", err)
	}
	return n, nil
}

// EventBacklog reports how many due events wait to be published and the
// age of the oldest. Events scheduled for later (retries) do not count.
func (db *DB) EventBacklog(ctx context.Context) (int64, time.Duration, error) {
	var n int64
	var oldest *time.Time
	err := db.pool.QueryRow(ctx, `SELECT count(*), min(due_at) FROM events WHERE due_at <= now()`).Scan(&n, &oldest)
	if err != nil {
		return 0, 0, fmt.Errorf("event backlog: %w", err)
	}
	if oldest == nil {
		return n, 0, nil
	}
	return n, time.Since(*oldest), nil
}

// ScheduledEvents counts events due later (delivery retries and waits).
func (db *DB) ScheduledEvents(ctx context.Context) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE due_at > now()`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("scheduled events: %w", err)
	}
	return n, nil
}

// NextEventDue returns when the earliest event of stream (as in
// RelayEvents) scheduled for later is due, or false when none is.
func (db *DB) NextEventDue(ctx context.Context, stream string) (time.Time, bool, error) {
	var due *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT min(due_at) FROM events WHERE `+streamOf+` = $1 AND due_at > now()`, stream).Scan(&due); err != nil {
		return time.Time{}, false, fmt.Errorf("next event due: %w", err)
	}
	if due == nil {
		return time.Time{}, false, nil
	}
	return *due, true, nil
}

// AppendEvents stores events on their own, outside any other change: a
// delivery retry scheduled for later, say.
func (db *DB) AppendEvents(ctx context.Context, events ...starling.Event) error {
	return db.inTx(ctx, func(tx pgx.Tx) error { return appendEvents(ctx, tx, events...) })
}

// ListenEvents calls notify each time a transaction that appended events
// commits, in any process, until ctx ends; then it returns nil. It holds
// one connection meanwhile, in the caller's goroutine. A broken connection
// is reopened a second later; the relay's periodic poll covers the gap.
// notify must not block.
func (db *DB) ListenEvents(ctx context.Context, notify func()) error {
	for ctx.Err() == nil {
		db.listen(ctx, notify)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (db *DB) listen(ctx context.Context, notify func()) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN starling_events`); err != nil {
		return
	}
	defer func() {
		if ctx.Err() != nil {
			// The connection may be mid-wait; drop it rather than return it
			// to the pool still listening.
			conn.Conn().Close(context.Background()) //nolint:errcheck
		}
	}()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return
		}
		notify()
	}
}
