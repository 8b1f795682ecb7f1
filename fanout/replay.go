package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/queue"
)

// ReplayStore is what replaying dead letters needs of the store.
type ReplayStore interface {
	ReplayDeadLetters(ctx context.Context, f starling.DeadLetterFilter, event func(starling.DeadLetter) (starling.Event, error)) (int, error)
}

// ReplayDeadLetters queues the dead letters f selects again, each as a
// fresh delivery (attempt counting starts over), and marks them replayed.
func ReplayDeadLetters(ctx context.Context, s ReplayStore, topo queue.Topology, f starling.DeadLetterFilter) (int, error) {
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	return s.ReplayDeadLetters(ctx, f, func(d starling.DeadLetter) (starling.Event, error) {
		payload, err := json.Marshal(queue.DeliveryMessage{ActivityID: d.ActivityID, ActorID: d.ActorID, Inbox: d.Inbox, Replay: true})
		if err != nil {
			return starling.Event{}, fmt.Errorf("encode replay: %w", err)
		}
		return starling.Event{
			MsgID:   deliveryMsgID(d.ActivityID, d.Inbox) + "-replay-" + strconv.FormatInt(d.ID, 10) + "-" + stamp,
			Subject: topo.DeliverySubject(d.Host),
			Payload: payload,
			Headers: queue.TraceFrom(ctx).Headers(),
		}, nil
	})
}
