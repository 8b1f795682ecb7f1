package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

// RelayEvents hands up to limit unpublished events of stream (the first two
// tokens of their subjects, e.g. "starling.outbox") that are due, oldest
// first, to publish, and deletes them once publish returns nil. It returns
// how many were published.
//
// Unlike store/postgres it does not hold a transaction across publish: the
// one writer connection would be held for the round trip to NATS and
// every other write would wait. The events are read from a snapshot, and
// deleted by sequence number afterwards; the relay runs one loop per stream
// and one process owns the file, so nothing else claims them meanwhile. If
// the process dies between publishing and deleting, the next relay
// publishes them again and JetStream drops the duplicates by msg_id, as
// with PostgreSQL.
func (db *DB) RelayEvents(ctx context.Context, stream string, limit int, publish func(context.Context, []starling.Event) error) (int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq, msg_id, subject, payload, headers FROM events
		WHERE stream = ?1 AND due_at <= ?2 ORDER BY due_at, seq LIMIT ?3`, stream, nowMicro(), limit)
	type row struct {
		seq int64
		ev  starling.Event
	}
	got, err := collect(rows, err, func(r scanner) (row, error) {
		var x row
		err := r.Scan(&x.seq, &x.ev.MsgID, &x.ev.Subject, &x.ev.Payload, jsonOf(&x.ev.Headers))
		return x, err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: relay events: %w", err)
	}
	if len(got) == 0 {
		return 0, nil
	}
	events := make([]starling.Event, len(got))
	seqs := make([]int64, len(got))
	for i, x := range got {
		events[i], seqs[i] = x.ev, x.seq
	}
	if err := publish(ctx, events); err != nil {
		return 0, fmt.Errorf("sqlite: relay events: %w", err)
	}
	if _, err := db.exec(ctx, `DELETE FROM events WHERE seq IN (SELECT value FROM json_each(?1))`, ids(seqs)); err != nil {
		return 0, fmt.Errorf("sqlite: relay events: delete published: %w", err)
	}
	return len(events), nil
}

// EventBacklog reports how many due events wait to be published and the
// age of the oldest. Events scheduled for later (retries) do not count.
func (db *DB) EventBacklog(ctx context.Context) (int64, time.Duration, error) {
	var n int64
	var oldest time.Time
	err := db.read.QueryRowContext(ctx, `SELECT count(*), min(due_at) FROM events WHERE due_at <= ?1`, nowMicro()).Scan(&n, ts(&oldest))
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: event backlog: %w", err)
	}
	if oldest.IsZero() {
		return n, 0, nil
	}
	return n, time.Since(oldest), nil
}

// ScheduledEvents counts events due later (delivery retries and waits).
func (db *DB) ScheduledEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE due_at > ?1`, nowMicro()).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: scheduled events: %w", err)
	}
	return n, nil
}

// NextEventDue returns when the earliest event of stream (as in
// RelayEvents) scheduled for later is due, or false when none is.
func (db *DB) NextEventDue(ctx context.Context, stream string) (time.Time, bool, error) {
	var due time.Time
	if err := db.read.QueryRowContext(ctx, `SELECT min(due_at) FROM events WHERE stream = ?1 AND due_at > ?2`, stream, nowMicro()).
		Scan(ts(&due)); err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: next event due: %w", err)
	}
	return due, !due.IsZero(), nil
}

// AppendEvents stores events on their own, outside any other change: a
// delivery retry scheduled for later, say.
func (db *DB) AppendEvents(ctx context.Context, events ...starling.Event) error {
	if err := db.inTx(ctx, func(t *tx) error { return appendEvents(ctx, t, events...) }); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// ListenEvents calls notify each time a transaction that appended events
// commits, until ctx ends; then it returns nil. The store is the only
// writer of its file, so the commits to hear of are its own: notify is
// called in process, after the commit, by the committing goroutine.
// notify must not block.
func (db *DB) ListenEvents(ctx context.Context, notify func()) error {
	id := db.wake.add(notify)
	defer db.wake.remove(id)
	<-ctx.Done()
	return nil
}
