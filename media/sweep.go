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
	// Remote, when set, is the cache of remote pictures, whose copies go
	// RemoteKeep after they were fetched.
	Remote     RemoteStore
	RemoteKeep time.Duration
	Now        func() time.Time // default time.Now
}

// RemoteStore is what the sweeper needs of the store for the remote cache.
type RemoteStore interface {
	ExpiredRemoteMedia(ctx context.Context, before time.Time, limit int) ([]starling.RemoteMedia, error)
	DeleteRemoteMedia(ctx context.Context, hashes []string) error
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// SweepRemote deletes the cached remote pictures fetched longer than
// RemoteKeep ago, files first, and returns how many went. A picture asked
// for again is fetched again.
func (s *Sweeper) SweepRemote(ctx context.Context) (int, error) {
	if s.Remote == nil || s.RemoteKeep <= 0 {
		return 0, nil
	}
	total := 0
	for {
		list, err := s.Remote.ExpiredRemoteMedia(ctx, s.now().Add(-s.RemoteKeep), 500)
		if err != nil || len(list) == 0 {
			return total, err
		}
		hashes := make([]string, 0, len(list))
		for _, m := range list {
			if err := s.Files.Delete(ctx, m.FileKey); err != nil {
				return total, err
			}
			hashes = append(hashes, m.Hash)
		}
		if err := s.Remote.DeleteRemoteMedia(ctx, hashes); err != nil {
			return total, err
		}
		total += len(hashes)
	}
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
		if n, err := s.SweepRemote(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("prune cached remote media", "error", err)
		} else if n > 0 {
			s.Logger.Info("pruned cached remote media", "files", n)
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
