package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Outgoing is one message to publish on a stream.
type Outgoing struct {
	Subject string
	// MsgID is the message's JetStream id: a second message with the same
	// id within the stream's duplicate window (ten minutes) is dropped.
	MsgID string
	Data  []byte
	// Headers, when set, are sent as they are; otherwise the trace of the
	// publishing context is.
	Headers map[string]string
}

// ErrPublishTimeout is returned when JetStream did not acknowledge a
// publication within PublishTimeout. What it had acknowledged stays
// published; message ids let the caller publish the whole batch again.
var ErrPublishTimeout = errors.New("no acknowledgement from JetStream")

// PublishTimeout bounds the wait for JetStream's acknowledgements of a batch.
const PublishTimeout = 30 * time.Second

// ErrNotConnected is returned by a publication while the connection to
// NATS is down (reconnecting), at once rather than after PublishTimeout:
// callers hold store transactions and connections while they wait (the
// relay), and a pool held for 30 s stalls the whole API.
var ErrNotConnected = errors.New("not connected to NATS")

// connectedEvery is how often a wait for acknowledgements checks that the
// connection is still up.
const connectedEvery = 200 * time.Millisecond

// Publish publishes one message on a stream with its message id and the
// trace (correlation id, traceparent) of ctx, and waits for JetStream to
// store it. A full stream's refusal wraps ErrStreamFull.
func (c *Conn) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	return c.PublishBatch(ctx, []Outgoing{{Subject: subject, MsgID: msgID, Data: data}})
}

// PublishBatch publishes msgs at once (without waiting for each
// acknowledgement before sending the next) and waits until JetStream has
// stored every one, for at most PublishTimeout. On error some may be
// stored and others not: publishing the batch again stores each once, by
// its message id. A full stream's refusal wraps ErrStreamFull; a timeout,
// ErrPublishTimeout; the connection being down, before or while waiting,
// ErrNotConnected.
func (c *Conn) PublishBatch(ctx context.Context, msgs []Outgoing) error {
	if err := c.Ready(); err != nil {
		return fmt.Errorf("publish: %w: %w", ErrNotConnected, err)
	}
	traced := TraceFrom(ctx).Headers()
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, o := range msgs {
		m := nats.NewMsg(o.Subject)
		m.Data = o.Data
		h := o.Headers
		if h == nil {
			h = traced
		}
		// A header of its own: the message id is set on it, and a retried
		// publication sends it again.
		for k, v := range h {
			m.Header.Set(k, v)
		}
		f, err := c.js.PublishMsgAsync(m, jetstream.WithMsgID(o.MsgID))
		if err != nil {
			return fmt.Errorf("publish %s: %w", o.Subject, c.publishError(err))
		}
		futures = append(futures, f)
	}
	timeout := time.NewTimer(PublishTimeout)
	defer timeout.Stop()
	check := time.NewTicker(connectedEvery)
	defer check.Stop()
	for i := 0; i < len(futures); {
		f := futures[i]
		select {
		case <-f.Ok():
			i++
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", msgs[i].Subject, c.publishError(err))
		case <-check.C:
			// Acknowledgements of messages buffered while reconnecting
			// come late or never; the caller publishes the batch again
			// once connected, each message stored once by its id.
			if err := c.Ready(); err != nil {
				return fmt.Errorf("publish %s: %w: %w", msgs[i].Subject, ErrNotConnected, err)
			}
		case <-timeout.C:
			return fmt.Errorf("publish %s: %w within %s", msgs[i].Subject, ErrPublishTimeout, PublishTimeout)
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w", msgs[i].Subject, ctx.Err())
		}
	}
	return nil
}

// publishError marks a full stream's refusal with ErrStreamFull, and a
// failure while the connection is down with ErrNotConnected.
func (c *Conn) publishError(err error) error {
	if isStreamFull(err) {
		return fmt.Errorf("%w: %w", ErrStreamFull, err)
	}
	if c.Ready() != nil || errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	return err
}

// isStreamFull reports whether a publish failed because a stream is at its
// limits (JetStream's "maximum messages/bytes exceeded", code 10077).
func isStreamFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10077
}

// PublishStream announces a streaming event (the JSON of a StreamMessage)
// on core NATS, subject Topology.StreamSubject, to every api process
// subscribed at that moment. Nothing is stored: see Stream.
func (c *Conn) PublishStream(data []byte) error {
	return c.nc.Publish(c.topo.StreamSubject(), data)
}

// SubscribeStream delivers the streaming events to handle, one at a time,
// until stop is called.
func (c *Conn) SubscribeStream(handle func(data []byte)) (stop func(), err error) {
	sub, err := c.nc.Subscribe(c.topo.StreamSubject(), func(m *nats.Msg) { handle(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", c.topo.StreamSubject(), err)
	}
	// Streaming clients are dropped when slow; the subscription itself
	// may hold a burst (a popular account's post) without being cut.
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	return func() { _ = sub.Unsubscribe() }, nil
}
