package timeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/starling-social/starling"
)

// TrimStore is what the trimmer needs of the store.
type TrimStore interface {
	TrimFeeds(ctx context.Context, after int64, batch, keep int) (last, deleted int64, err error)
}

// Trimmer keeps every home feed to its newest Keep entries, in the
// background: fan-out only ever inserts, and a sweep over all local
// accounts, a batch at a time, deletes what fell off the end. It is a
// reconciliation loop over the store, holding no state but its cursor, so
// it may run in any number of processes (deletes of the same rows are
// idempotent).
type Trimmer struct {
	Store    TrimStore
	Keep     int           // entries kept per feed; default starling.DefaultFeedCap
	Batch    int           // accounts per statement; default 500
	Interval time.Duration // pause between sweeps; default five minutes
	// Pause is the rest between two batches of a sweep; default 50 ms. A
	// sweep reads every feed (up to the cap), so it is paced to stay a
	// background load: about 10 batches a second at most.
	Pause  time.Duration
	Logger *slog.Logger
}

// Run sweeps until ctx ends, then returns nil.
func (t *Trimmer) Run(ctx context.Context) error {
	keep, batch, interval := t.Keep, t.Batch, t.Interval
	if keep <= 0 {
		keep = starling.DefaultFeedCap
	}
	if batch <= 0 {
		batch = 500
	}
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	if t.Pause <= 0 {
		t.Pause = 50 * time.Millisecond
	}
	for {
		n, err := t.Sweep(ctx, keep, batch)
		if err != nil && ctx.Err() == nil {
			t.Logger.Warn("trim feeds", "error", err)
		} else if n > 0 {
			t.Logger.Debug("trimmed feeds", "rows", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// Sweep trims every feed once and returns the rows deleted.
func (t *Trimmer) Sweep(ctx context.Context, keep, batch int) (int64, error) {
	var total, after int64
	for {
		last, n, err := t.Store.TrimFeeds(ctx, after, batch, keep)
		total += n
		if err != nil || last == 0 {
			return total, err
		}
		after = last
		if t.Pause > 0 {
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(t.Pause):
			}
		}
	}
}
