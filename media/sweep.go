package media

import (
	"context"
	"log/slog"
	"time"

	"github.com/starling-social/starling"
)

// SweepStore is what the Sweeper reads and deletes.
type SweepStore interface {
	SweepableMedia(ctx context.Context, cutoff time.Time, limit int) ([]*starling.MediaAttachment, error)
	DeleteMedia(ctx context.Context, ids []int64) error
}

// Sweeper is the reconciliation loop of media files: it deletes uploads
// never attached within Unattached (a day by default, as Mastodon) and the
// files of deleted statuses, files first, then their rows, so a crash
// between the two only leaves rows to sweep again. Any number of
// processes may run one.
type Sweeper struct {
	Store SweepStore
	Files interface {
		Delete(ctx context.Context, key string) error
	}
	Interval   time.Duration // default 10 minutes
	Unattached time.Duration // default 24 hours
	Logger     *slog.Logger
}

// Run sweeps every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("sweep media", "error", err)
		} else if n > 0 {
			s.Logger.Info("swept media", "files", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep deletes what is sweepable now, in batches, and returns how many
// attachments it removed.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	after := s.Unattached
	if after <= 0 {
		after = 24 * time.Hour
	}
	total := 0
	for {
		list, err := s.Store.SweepableMedia(ctx, time.Now().Add(-after), 500)
		if err != nil || len(list) == 0 {
			return total, err
		}
		ids := make([]int64, 0, len(list))
		for _, m := range list {
			for _, key := range []string{m.FileKey, m.SmallKey} {
				if key == "" {
					continue
				}
				if err := s.Files.Delete(ctx, key); err != nil {
					return total, err
				}
			}
			ids = append(ids, m.ID)
		}
		if err := s.Store.DeleteMedia(ctx, ids); err != nil {
			return total, err
		}
		total += len(ids)
	}
}
