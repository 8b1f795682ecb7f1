package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/starling-social/starling"
	"golang.org/x/sync/errgroup"
)

// EventSource is the store's transactional outbox, as the relay needs it.
// A stream is named as Topology.EventStream names it: the first two tokens
// of its events' subjects.
type EventSource interface {
	RelayEvents(ctx context.Context, stream string, limit int, publish func(context.Context, []starling.Event) error) (int, error)
	// ListenEvents calls notify (which must not block) whenever events
	// commit, until ctx ends.
	ListenEvents(ctx context.Context, notify func()) error
	NextEventDue(ctx context.Context, stream string) (time.Time, bool, error)
}

// Relay moves committed events from the store onto JetStream. It is a
// reconciliation loop over one store of truth: it holds no state, any
// number may run, and whatever one leaves undone the next one finds.
//
// Each stream has its own loop, claiming only that stream's events: a
// stream that refuses messages (full) holds back its own events and no
// one else's. One listener on the store wakes every loop.
type Relay struct {
	Source    EventSource
	Conn      *Conn
	Logger    *slog.Logger
	Metrics   *Metrics
	BatchSize int           // events per batch and stream; default 256
	Interval  time.Duration // poll even without a notification; default 1s
}

// Run publishes until ctx ends, then returns nil once every loop has
// stopped. Unpublished events stay in the store for the next relay.
func (r *Relay) Run(ctx context.Context) error {
	kinds := []string{Outbox, Delivery, Inbox, Timeline}
	wakes := make([]chan struct{}, len(kinds))
	for i := range wakes {
		wakes[i] = make(chan struct{}, 1)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return r.Source.ListenEvents(ctx, func() {
			for _, w := range wakes {
				select {
				case w <- struct{}{}:
				default: // already woken: coalesce
				}
			}
		})
	})
	for i, kind := range kinds {
		l := &relayLoop{r: r, stream: r.Conn.topo.EventStream(kind), wake: wakes[i],
			batch: r.BatchSize, interval: r.Interval, logger: r.Logger}
		if l.batch <= 0 {
			l.batch = 256
		}
		if l.interval <= 0 {
			l.interval = time.Second
		}
		if l.logger == nil {
			l.logger = slog.Default()
		}
		l.logger = l.logger.With("stream", r.Conn.topo.Stream(kind))
		g.Go(func() error { return l.run(ctx) })
	}
	return g.Wait()
}

// relayLoop publishes one stream's events.
type relayLoop struct {
	r        *Relay
	stream   string
	wake     <-chan struct{}
	batch    int
	interval time.Duration
	logger   *slog.Logger
}

func (l *relayLoop) run(ctx context.Context) error {
	timer := time.NewTimer(l.interval)
	defer timer.Stop()
	failing := time.Duration(0)
	var logged time.Time // last warning of failures
	for {
		// While NATS is away nothing can be published: claim no events,
		// holding no transaction (nor a connection of the store's pool,
		// which the API needs) for a publication bound to fail.
		var n int
		err := l.r.Conn.Ready()
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrNotConnected, err)
		} else {
			n, err = l.r.Source.RelayEvents(ctx, l.stream, l.batch, l.publish)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			l.r.Metrics.relayFailed()
			// Back off while NATS or PostgreSQL is away, log once per step,
			// and say so when it comes back.
			limit := 10 * time.Second
			if errors.Is(err, ErrStreamFull) || errors.Is(err, ErrNotConnected) {
				// A full stream drains message by message, and a
				// reconnection is seen at no cost: look again soon.
				limit = time.Second
			}
			next := min(max(2*failing, 100*time.Millisecond), limit)
			// Each step of the backoff is logged, then every 10 s at its cap.
			if next != failing || time.Since(logged) >= 10*time.Second {
				l.logger.Warn("relay: events not published; will retry", "error", err, "retry_in", next)
				logged = time.Now()
			}
			failing = next
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(failing):
			}
			continue
		}
		if failing > 0 {
			l.logger.Info("relay: publishing again")
			failing = 0
		}
		l.r.Metrics.relayedEvents(n)
		if n == l.batch {
			continue // more are waiting
		}
		// Sleep until notified, until the stream's next scheduled event (a
		// delivery retry) is due, or for the interval, whichever comes first.
		wait := l.interval
		if due, ok, err := l.r.Source.NextEventDue(ctx, l.stream); err == nil && ok {
			wait = min(wait, max(time.Until(due), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
		case <-timer.C:
		}
	}
}

func (l *relayLoop) publish(ctx context.Context, events []starling.Event) error {
	msgs := make([]Outgoing, len(events))
	for i, ev := range events {
		h := ev.Headers
		if h == nil {
			h = map[string]string{}
		}
		msgs[i] = Outgoing{Subject: ev.Subject, MsgID: ev.MsgID, Data: ev.Payload, Headers: h}
	}
	return l.r.Conn.PublishBatch(ctx, msgs)
}
