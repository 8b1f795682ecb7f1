package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/starling-social/starling"
)

// EventSource is the store's transactional outbox, as the relay needs it.
type EventSource interface {
	RelayEvents(ctx context.Context, limit int, publish func(context.Context, []starling.Event) error) (int, error)
	ListenEvents(ctx context.Context) <-chan struct{}
	NextEventDue(ctx context.Context) (time.Time, bool, error)
}

// Relay moves committed events from the store onto JetStream. It is a
// reconciliation loop over one store of truth: it holds no state, any
// number may run, and whatever one leaves undone the next one finds.
type Relay struct {
	Source    EventSource
	JS        jetstream.JetStream
	Logger    *slog.Logger
	Metrics   *Metrics
	BatchSize int           // default 256
	Interval  time.Duration // poll even without a notification; default 1s
}

// Run publishes until ctx is done. It returns nil on cancellation.
func (r *Relay) Run(ctx context.Context) error {
	if r.BatchSize <= 0 {
		r.BatchSize = 256
	}
	if r.Interval <= 0 {
		r.Interval = time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	wake := r.Source.ListenEvents(ctx)
	timer := time.NewTimer(r.Interval)
	defer timer.Stop()
	failing := time.Duration(0)
	for {
		n, err := r.Source.RelayEvents(ctx, r.BatchSize, r.publish)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.Metrics.relayFailed()
			// Back off while NATS or PostgreSQL is away, log once per step,
			// and say so when it comes back.
			limit := 10 * time.Second
			if isStreamFull(err) {
				// A full stream drains message by message: look again soon.
				limit = time.Second
			}
			failing = min(max(2*failing, 100*time.Millisecond), limit)
			r.Logger.Warn("relay: events not published; will retry", "error", err, "retry_in", failing)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(failing):
			}
			continue
		}
		if failing > 0 {
			r.Logger.Info("relay: publishing again")
			failing = 0
		}
		r.Metrics.relayedEvents(n)
		if n == r.BatchSize {
			continue // more are waiting
		}
		// Sleep until notified, until the next scheduled event (a delivery
		// retry) is due, or for Interval, whichever comes first.
		wait := r.Interval
		if due, ok, err := r.Source.NextEventDue(ctx); err == nil && ok {
			wait = min(wait, max(time.Until(due), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-timer.C:
		}
	}
}

func (r *Relay) publish(ctx context.Context, events []starling.Event) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	for _, ev := range events {
		msg := nats.NewMsg(ev.Subject)
		msg.Data = ev.Payload
		for k, v := range ev.Headers {
			msg.Header.Set(k, v)
		}
		f, err := r.JS.PublishMsgAsync(msg, jetstream.WithMsgID(ev.MsgID))
		if err != nil {
			return fmt.Errorf("publish %s: %w", ev.Subject, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", events[i].Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w", events[i].Subject, ctx.Err())
		}
	}
	return nil
}

// isStreamFull reports whether a publish failed because a stream is at its
// limits (JetStream's "maximum messages/bytes exceeded", code 10077).
func isStreamFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10077
}
