// Package timeline materialises home feeds. It consumes status events from
// the timeline stream (local posts from the outbox, remote ones from inbox
// processing) and writes each status into every feed that should show it
// in one set-wise statement, so a client reads its home timeline with one
// indexed query.
package timeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/starling-social/starling/queue"
)

// Store is what the builder needs of the store.
type Store interface {
	AddStatusToFeeds(ctx context.Context, statusID int64) (int64, error)
	RemoveStatusFromFeeds(ctx context.Context, statusID int64) (int64, error)
}

// Builder applies timeline events. It keeps no state: any number may run.
type Builder struct {
	Store  Store
	Logger *slog.Logger
}

// HandleTimeline is the queue.Handler of the timeline stream. Both
// branches are idempotent: feed rows are unique per (account, status), and
// a deleted status is never added.
func (b *Builder) HandleTimeline(ctx context.Context, msg jetstream.Msg) error {
	var ev queue.TimelineEvent
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		return queue.Permanent(fmt.Errorf("decode timeline event: %w", err))
	}
	switch {
	case strings.HasSuffix(msg.Subject(), "."+queue.StatusCreated):
		n, err := b.Store.AddStatusToFeeds(ctx, ev.StatusID)
		if err != nil {
			return err
		}
		b.Logger.Debug("status added to feeds", "status_id", ev.StatusID, "feeds", n)
	case strings.HasSuffix(msg.Subject(), "."+queue.StatusDeleted):
		n, err := b.Store.RemoveStatusFromFeeds(ctx, ev.StatusID)
		if err != nil {
			return err
		}
		b.Logger.Debug("status removed from feeds", "status_id", ev.StatusID, "feeds", n)
	default:
		return queue.Permanent(fmt.Errorf("unknown timeline subject %s", msg.Subject()))
	}
	return nil
}
