package queue

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StreamState is one stream's fill, as last seen.
type StreamState struct {
	Name        string  `json:"name"`
	Messages    uint64  `json:"messages"`
	Bytes       uint64  `json:"bytes"`
	MaxMessages int64   `json:"max_messages"`
	MaxBytes    int64   `json:"max_bytes"`
	Fill        float64 `json:"fill"` // the larger of messages and bytes over their limits
	// The backlog, from the consumer's state: what it has not been handed
	// yet (pending) and what it holds unacknowledged (ack_pending), past
	// its ack floor. Unlike Messages it is right after a crash of
	// nats-server 2.9, which may keep acknowledged messages in a
	// work-queue stream (they count against the limits, so Fill still
	// reads Messages).
	Consumer   string `json:"consumer,omitempty"`
	Pending    uint64 `json:"pending"`
	AckPending int    `json:"ack_pending"`
	AckFloor   uint64 `json:"ack_floor"`
	Backlog    uint64 `json:"backlog"`
}

// consumers are the durable consumer of each stream kind (as serve makes them).
var consumers = map[string]string{Outbox: "fanout", Delivery: "delivery", Inbox: "inbox", Timeline: "timeline"}

// RelayState is the store's outbox, as last seen.
type RelayState struct {
	Due           int64   `json:"due"`            // events waiting to be published now
	OldestSeconds float64 `json:"oldest_seconds"` // age of the oldest due event
	Scheduled     int64   `json:"scheduled"`      // events due later (delivery retries)
}

// Backlog is what the monitor reads of the store.
type Backlog interface {
	EventBacklog(ctx context.Context) (int64, time.Duration, error)
	ScheduledEvents(ctx context.Context) (int64, error)
}

// Monitor watches how full the streams and the relay's backlog are, so the
// API can refuse new work (503 with Retry-After) before a stream refuses
// it, and so admins can see where work piles up. It polls once a second;
// the answer it gives is at most that old.
type Monitor struct {
	Conn   *Conn
	Store  Backlog
	Logger *slog.Logger
	// HighWater is the fill above which producers are told to back off (default 0.8).
	HighWater float64
	// MaxRelayAge is the age of the oldest unpublished event above which
	// producers are told to back off: NATS is away or slower than the store (default 1m).
	MaxRelayAge time.Duration

	mu         sync.Mutex
	streams    []StreamState
	relay      RelayState
	overloaded bool
	reason     string
}

// Run polls until ctx ends, then returns nil.
func (m *Monitor) Run(ctx context.Context) error {
	if m.HighWater <= 0 {
		m.HighWater = 0.8
	}
	if m.MaxRelayAge <= 0 {
		m.MaxRelayAge = time.Minute
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		m.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (m *Monitor) poll(parent context.Context) {
	// The poll's own deadline is not shutdown: a stream that cannot be
	// read within it (NATS down or cut off) is a reason to push back,
	// and must not leave the last healthy state in place.
	ctx, cancel := context.WithTimeout(parent, 5*time.Second)
	defer cancel()
	var streams []StreamState
	reason := ""
	// While the connection is down (a NATS restart, the node lost) every
	// read would wait for the deadline: push back at once, and keep the
	// streams as last seen.
	connected := true
	if err := m.Conn.Ready(); err != nil {
		connected, reason = false, err.Error()
		m.mu.Lock()
		streams = m.streams
		m.mu.Unlock()
	}
	for _, kind := range []string{Outbox, Delivery, Inbox, Timeline} {
		if !connected {
			break
		}
		s, err := m.Conn.js.Stream(ctx, m.Conn.topo.Stream(kind))
		if err != nil {
			if parent.Err() == nil && reason == "" {
				reason = fmt.Sprintf("cannot read stream %s: %v", m.Conn.topo.Stream(kind), err)
			}
			continue
		}
		info := s.CachedInfo()
		st := StreamState{Name: info.Config.Name, Messages: info.State.Msgs, Bytes: info.State.Bytes,
			MaxMessages: info.Config.MaxMsgs, MaxBytes: info.Config.MaxBytes}
		if st.MaxMessages > 0 {
			st.Fill = float64(st.Messages) / float64(st.MaxMessages)
		}
		if st.MaxBytes > 0 {
			st.Fill = max(st.Fill, float64(st.Bytes)/float64(st.MaxBytes))
		}
		if c, err := s.Consumer(ctx, consumers[kind]); err == nil {
			ci := c.CachedInfo()
			st.Consumer, st.Pending, st.AckPending, st.AckFloor = ci.Name, ci.NumPending, ci.NumAckPending, ci.AckFloor.Stream
			st.Backlog = st.Pending + uint64(max(st.AckPending, 0))
		}
		if st.Fill >= m.HighWater && reason == "" {
			reason = fmt.Sprintf("stream %s is %.0f%% full (%d messages)", st.Name, 100*st.Fill, st.Messages)
		}
		streams = append(streams, st)
	}
	var relay RelayState
	if n, age, err := m.Store.EventBacklog(ctx); err == nil {
		relay.Due, relay.OldestSeconds = n, age.Seconds()
		if age > m.MaxRelayAge && reason == "" {
			reason = fmt.Sprintf("%d events have waited up to %s to be published to NATS", n, age.Round(time.Second))
		}
	}
	if n, err := m.Store.ScheduledEvents(ctx); err == nil {
		relay.Scheduled = n
	}
	if parent.Err() != nil {
		return // shutting down: keep the last state
	}
	m.mu.Lock()
	was := m.overloaded
	m.streams, m.relay, m.overloaded, m.reason = streams, relay, reason != "", reason
	m.mu.Unlock()
	switch {
	case reason != "" && !was:
		m.Logger.Warn("backpressure on: refusing new posts with 503 until the backlog drains", "reason", reason)
	case reason == "" && was:
		m.Logger.Info("backpressure off: accepting posts again")
	}
}

// Pressure reports whether producers should back off, and why.
func (m *Monitor) Pressure() (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.overloaded, m.reason
}

// Snapshot returns the last seen state of streams and relay.
func (m *Monitor) Snapshot() ([]StreamState, RelayState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]StreamState(nil), m.streams...), m.relay
}

// Describe implements prometheus.Collector.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(m, ch) }

// Collect implements prometheus.Collector with the last seen state.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	streams, relay := m.Snapshot()
	over, _ := m.Pressure()
	msgs := prometheus.NewDesc("starling_stream_messages", "Messages in each stream (its fill; the backlog is starling_consumer_backlog: a crashed nats-server 2.9 may keep acked messages).", []string{"stream"}, nil)
	fill := prometheus.NewDesc("starling_stream_fill_ratio", "Fill of each stream against its message and byte limits.", []string{"stream"}, nil)
	backlog := prometheus.NewDesc("starling_consumer_backlog", "Messages a consumer has not acknowledged: not yet handed out plus in flight (from consumer state, not stream counts).", []string{"stream", "consumer"}, nil)
	for _, s := range streams {
		ch <- prometheus.MustNewConstMetric(msgs, prometheus.GaugeValue, float64(s.Messages), s.Name)
		ch <- prometheus.MustNewConstMetric(fill, prometheus.GaugeValue, s.Fill, s.Name)
		if s.Consumer != "" {
			ch <- prometheus.MustNewConstMetric(backlog, prometheus.GaugeValue, float64(s.Backlog), s.Name, s.Consumer)
		}
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("starling_relay_due_events", "Committed events waiting to be published.", nil, nil),
		prometheus.GaugeValue, float64(relay.Due))
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("starling_relay_oldest_seconds", "Age of the oldest event waiting to be published.", nil, nil),
		prometheus.GaugeValue, relay.OldestSeconds)
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("starling_relay_scheduled_events", "Events due later: delivery retries and breaker waits.", nil, nil),
		prometheus.GaugeValue, float64(relay.Scheduled))
	v := 0.0
	if over {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("starling_backpressure", "1 while new posts are refused with 503.", nil, nil),
		prometheus.GaugeValue, v)
}
