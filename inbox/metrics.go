package inbox

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts inbox requests and processed activities. A nil *Metrics counts nothing.
type Metrics struct {
	requests  *prometheus.CounterVec
	processed *prometheus.CounterVec
}

// NewMetrics registers the inbox's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_inbox_requests_total",
			Help: "Inbox POSTs by outcome (accepted, duplicate, forward_dropped, unauthorized, bad_request, too_large, error).",
		}, []string{"outcome"}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_inbox_activities_processed_total",
			Help: "Remote activities applied, by type.",
		}, []string{"type"}),
	}
	reg.MustRegister(m.requests, m.processed)
	return m
}

func (m *Metrics) received(outcome string) {
	if m != nil {
		m.requests.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) applied(typ string) {
	if m != nil {
		m.processed.WithLabelValues(typ).Inc()
	}
}
