package fanout

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// DeliveryMetrics counts every delivery outcome. A nil *DeliveryMetrics counts nothing.
type DeliveryMetrics struct {
	queuedTotal   prometheus.Counter
	attempts      *prometheus.HistogramVec
	outcomes      *prometheus.CounterVec
	failures      *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	skipped       prometheus.Counter
	breakersState *prometheus.GaugeVec
}

// NewDeliveryMetrics registers delivery metrics with reg. backlog, if not
// nil, reports deliveries held in memory behind their host: the total and
// the hosts with the most (at most 20, to keep label cardinality bounded).
func NewDeliveryMetrics(reg prometheus.Registerer, backlog func(n int) (int, map[string]int)) *DeliveryMetrics {
	m := &DeliveryMetrics{
		queuedTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_delivery_queued_total", Help: "Deliveries queued by fanout (one per activity and inbox).",
		}),
		attempts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "starling_delivery_attempt_seconds", Help: "Duration of delivery attempts (POST to answer).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, nil),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_delivery_outcomes_total",
			Help: "Delivery messages by outcome: delivered, retry_scheduled, breaker_wait, superseded, gone, undecodable.",
		}, []string{"outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_delivery_failures_total",
			Help: "Failed delivery attempts by class: http_3xx, http_4xx, http_401, gone, http_5xx, http_429, http_408, timeout, connection, dns, tls, refused_address, request.",
		}, []string{"class"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_delivery_dead_letters_total", Help: "Deliveries given up on, by reason (permanent, exhausted).",
		}, []string{"reason"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_delivery_skipped_unavailable_total", Help: "Inboxes left out of fanouts because their host is marked unavailable.",
		}),
		breakersState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "starling_delivery_breakers", Help: "Hosts whose circuit breaker is open or half-open, in this process.",
		}, []string{"state"}),
	}
	reg.MustRegister(m.queuedTotal, m.attempts, m.outcomes, m.failures, m.deadLetters, m.skipped, m.breakersState)
	if backlog != nil {
		reg.MustRegister(&backlogCollector{backlog: backlog,
			total: prometheus.NewDesc("starling_delivery_waiting", "Deliveries held in memory behind their host's concurrency cap.", nil, nil),
			host:  prometheus.NewDesc("starling_delivery_host_backlog", "Deliveries waiting or in flight for the 20 busiest hosts.", []string{"host"}, nil),
		})
	}
	return m
}

type backlogCollector struct {
	backlog     func(n int) (int, map[string]int)
	total, host *prometheus.Desc
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.total; ch <- c.host }

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	total, top := c.backlog(20)
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(total))
	for h, n := range top {
		ch <- prometheus.MustNewConstMetric(c.host, prometheus.GaugeValue, float64(n), h)
	}
}

func (m *DeliveryMetrics) queued(n int) {
	if m != nil {
		m.queuedTotal.Add(float64(n))
	}
}

func (m *DeliveryMetrics) attempt(_ string, d time.Duration) {
	if m != nil {
		m.attempts.WithLabelValues().Observe(d.Seconds())
	}
}

func (m *DeliveryMetrics) outcome(o string) {
	if m != nil {
		m.outcomes.WithLabelValues(o).Inc()
	}
}

func (m *DeliveryMetrics) failure(class string) {
	if m != nil {
		m.failures.WithLabelValues(class).Inc()
	}
}

func (m *DeliveryMetrics) deadLetter(reason string) {
	if m != nil {
		m.deadLetters.WithLabelValues(reason).Inc()
	}
}

func (m *DeliveryMetrics) skippedUnavailable(n int) {
	if m != nil {
		m.skipped.Add(float64(n))
	}
}

func (m *DeliveryMetrics) breakerChange(from, to gobreaker.State) {
	if m == nil {
		return
	}
	if from != gobreaker.StateClosed {
		m.breakersState.WithLabelValues(from.String()).Dec()
	}
	if to != gobreaker.StateClosed {
		m.breakersState.WithLabelValues(to.String()).Inc()
	}
}
