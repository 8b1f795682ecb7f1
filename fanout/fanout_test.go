package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/queue"
)

// audienceStore is an AudienceStore of one activity and its followers.
type audienceStore struct {
	failing   []starling.HostHealth
	act       *starling.Activity
	followers []string
	audience  []string // recorded by SetActivityAudience
}

var _ AudienceStore = (*audienceStore)(nil)

func (s *audienceStore) AccountByID(context.Context, int64) (*starling.Account, error) {
	return nil, starling.ErrNotFound
}
func (s *audienceStore) ActivityByID(context.Context, int64) (*starling.Activity, error) {
	return s.act, nil
}
func (s *audienceStore) FollowerInboxes(context.Context, int64, time.Time) ([]string, error) {
	return s.followers, nil
}
func (s *audienceStore) FailingHosts(context.Context) ([]starling.HostHealth, error) {
	return s.failing, nil
}
func (s *audienceStore) SetActivityAudience(_ context.Context, _ int64, inboxes []string) error {
	s.audience = inboxes
	return nil
}
func (s *audienceStore) AudienceOf(context.Context, string, string) ([]string, error) {
	return nil, starling.ErrNotFound
}

// publisher is a Publisher that records batches, or fails with err.
type publisher struct {
	batches [][]queue.Outgoing
	trace   queue.Trace
	err     error
}

func (p *publisher) PublishBatch(ctx context.Context, msgs []queue.Outgoing) error {
	p.batches = append(p.batches, msgs)
	p.trace = queue.TraceFrom(ctx)
	return p.err
}

// TestHandleOutbox fans a Create out to its followers' inboxes, one
// delivery per inbox on its host's subject, in one batch, with stable
// message ids and the event's trace; no NATS needed.
func TestHandleOutbox(t *testing.T) {
	topo, _ := queue.NewTopology("")
	ev := must(json.Marshal(queue.OutboxEvent{ActivityID: 7, ActorID: 1, Followers: true}))
	msg := queue.Message{Subject: topo.Subject(queue.Outbox, "create"), Data: ev, Delivered: 1}
	newFanout := func(pub *publisher) (*Fanout, *audienceStore) {
		st := &audienceStore{act: &starling.Activity{ID: 7, Type: "Create", ActorID: 1},
			followers: []string{"https://a.example/inbox", "https://b.example:8443/users/x/inbox", "not a url\x7f"}}
		return &Fanout{Store: st, Publisher: pub, Topology: topo, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, st
	}
	t.Run("OK", func(t *testing.T) {
		pub := &publisher{}
		f, st := newFanout(pub)
		ctx := queue.WithTrace(context.Background(), queue.Trace{CorrelationID: "c1"})
		if err := f.HandleOutbox(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if len(pub.batches) != 1 || len(pub.batches[0]) != 2 {
			t.Fatalf("published %v, want one batch of 2", pub.batches)
		}
		for i, want := range []struct{ subject, inbox string }{
			{"starling.delivery.a_example", "https://a.example/inbox"},
			{"starling.delivery.b_example~8443", "https://b.example:8443/users/x/inbox"},
		} {
			o := pub.batches[0][i]
			var d queue.DeliveryMessage
			if err := json.Unmarshal(o.Data, &d); err != nil {
				t.Fatal(err)
			}
			if o.Subject != want.subject || d.Inbox != want.inbox || o.MsgID != deliveryMsgID(7, want.inbox) {
				t.Errorf("message %d: %s %s %+v", i, o.Subject, o.MsgID, d)
			}
		}
		if pub.trace.CorrelationID != "c1" {
			t.Errorf("published with trace %+v, want the event's", pub.trace)
		}
		if len(st.audience) != 3 {
			t.Errorf("audience recorded %v", st.audience)
		}
	})
	t.Run("SkipsUnavailableHosts", func(t *testing.T) {
		pub := &publisher{}
		f, st := newFanout(pub)
		st.failing = []starling.HostHealth{{Host: "a.example", Unavailable: true}, {Host: "b.example:8443"}}
		if err := f.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := f.HandleOutbox(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		if len(pub.batches) != 1 || len(pub.batches[0]) != 1 || pub.batches[0][0].Subject != "starling.delivery.b_example~8443" {
			t.Errorf("published %v, want b.example alone (a.example is unavailable, b only failing)", pub.batches)
		}
	})
	t.Run("ErrStreamFull", func(t *testing.T) {
		f, _ := newFanout(&publisher{err: fmt.Errorf("publish: %w", queue.ErrStreamFull)})
		err := f.HandleOutbox(context.Background(), msg)
		if err == nil || queue.IsPermanent(err) || !errors.Is(err, queue.ErrStreamFull) {
			t.Errorf("error %v, want a retry of the stream-full error", err)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
