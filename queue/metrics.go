package queue

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what consumers and the relay do. A nil *Metrics counts nothing.
type Metrics struct {
	handled   *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	relayed   prometheus.Counter
	relayErrs prometheus.Counter
}

// NewMetrics registers the queue's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_queue_messages_total",
			Help: "Messages handled by each consumer, by outcome (ack, retry, permanent, failed: given up after MaxAttempts, abandoned, deferred).",
		}, []string{"consumer", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starling_queue_handle_seconds",
			Help:    "Time to handle one message, by consumer.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"consumer"}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_relay_events_published_total",
			Help: "Events moved from the store's outbox onto JetStream.",
		}),
		relayErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_relay_errors_total",
			Help: "Relay batches that failed and will be tried again.",
		}),
	}
	reg.MustRegister(m.handled, m.duration, m.relayed, m.relayErrs)
	return m
}

func (m *Metrics) observe(consumer, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.handled.WithLabelValues(consumer, outcome).Inc()
	m.duration.WithLabelValues(consumer).Observe(d.Seconds())
}

func (m *Metrics) relayedEvents(n int) {
	if m != nil {
		m.relayed.Add(float64(n))
	}
}

func (m *Metrics) relayFailed() {
	if m != nil {
		m.relayErrs.Inc()
	}
}
