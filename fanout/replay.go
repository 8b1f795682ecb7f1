package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/store"
)

// ReplayStore is what replaying dead letters needs of the store.
type ReplayStore interface {
	ReplayDeadLetters(ctx context.Context, f store.DeadLetterFilter, event func(store.DeadLetter) (store.Event, error)) (int, error)
}

// ReplayDeadLetters queues the dead letters f selects again, each as a
// fresh delivery (attempt counting starts over), and marks them replayed.
func ReplayDeadLetters(ctx context.Context, s ReplayStore, topo queue.Topology, f store.DeadLetterFilter) (int, error) {
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	return s.ReplayDeadLetters(ctx, f, func(d store.DeadLetter) (store.Event, error) {
		payload, err := json.Marshal(queue.DeliveryMessage{ActivityID: d.ActivityID, ActorID: d.ActorID, Inbox: d.Inbox, Replay: true})
		if err != nil {
			return store.Event{}, fmt.Errorf("encode replay: %w", err)
		}
		return store.Event{
			MsgID:   deliveryMsgID(d.ActivityID, d.Inbox) + "-replay-" + strconv.FormatInt(d.ID, 10) + "-" + stamp,
			Subject: topo.DeliverySubject(d.Host),
			Payload: payload,
			Headers: queue.TraceFrom(ctx).Headers(),
		}, nil
	})
}
