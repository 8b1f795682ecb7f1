package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Header names that carry a request's identity across processes: over HTTP
// between servers and from the API, and over NATS between roles.
const (
	HeaderRequestID   = "X-Request-Id"            // HTTP
	HeaderCorrelation = "Starling-Correlation-Id" // NATS
	// HeaderSender names the host an inbox activity came from; the inbox
	// consumer is keyed by it.
	HeaderSender      = "Starling-Sender"
	HeaderTraceparent = "traceparent" // W3C trace context, both
)

// Trace is the identity of the work a context belongs to.
type Trace struct {
	CorrelationID string
	Traceparent   string
}

type traceKey struct{}

// WithTrace returns ctx carrying t.
func WithTrace(ctx context.Context, t Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom returns the trace ctx carries, or the zero Trace.
func TraceFrom(ctx context.Context) Trace {
	t, _ := ctx.Value(traceKey{}).(Trace)
	return t
}

// NewCorrelationID returns a random 128-bit id in hex.
func NewCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TraceFromHTTP reads the trace of an inbound request, starting a new
// correlation id when the caller sent none (or an unreasonable one).
func TraceFromHTTP(h http.Header) Trace {
	t := Trace{CorrelationID: h.Get(HeaderRequestID), Traceparent: h.Get(HeaderTraceparent)}
	if t.CorrelationID == "" || len(t.CorrelationID) > 128 {
		t.CorrelationID = NewCorrelationID()
	}
	if len(t.Traceparent) > 128 {
		t.Traceparent = ""
	}
	return t
}

// SetHTTP writes the trace onto an outbound request's headers.
func (t Trace) SetHTTP(h http.Header) {
	if t.CorrelationID != "" {
		h.Set(HeaderRequestID, t.CorrelationID)
	}
	if t.Traceparent != "" {
		h.Set(HeaderTraceparent, t.Traceparent)
	}
}

// Headers returns the trace as event headers, for the store's outbox rows.
func (t Trace) Headers() map[string]string {
	h := map[string]string{}
	if t.CorrelationID != "" {
		h[HeaderCorrelation] = t.CorrelationID
	}
	if t.Traceparent != "" {
		h[HeaderTraceparent] = t.Traceparent
	}
	return h
}

func traceFromNATS(h nats.Header) Trace {
	t := Trace{CorrelationID: h.Get(HeaderCorrelation), Traceparent: h.Get(HeaderTraceparent)}
	if t.CorrelationID == "" {
		t.CorrelationID = NewCorrelationID()
	}
	return t
}

// TracerName names Starling's spans' instrumentation scope.
const TracerName = "github.com/starling-social/starling"

// StartSpan starts a span named name under the trace ctx carries: the
// span of ctx if there is one in this process, else the remote parent its
// traceparent names (the API's span, read back from a NATS header or an
// HTTP request). The returned context carries the span and a Trace whose
// traceparent names the new span, so that whatever is published or sent
// from it next is the span's child: that is how one trace follows a post
// from the client's request through the relay, fanout, every delivery
// attempt, and a receiving server's inbox and timeline.
//
// With a nil provider (tracing off, the default) it returns ctx unchanged
// and a span that records nothing, at the cost of a context lookup; the
// callers, on the hot paths of delivery and the queues, build their
// attributes only when span.IsRecording().
func StartSpan(ctx context.Context, tp trace.TracerProvider, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if tp == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	var attrs []attribute.KeyValue
	t := TraceFrom(ctx)
	if !trace.SpanContextFromContext(ctx).IsValid() && t.Traceparent != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{HeaderTraceparent: t.Traceparent})
	}
	if t.CorrelationID != "" {
		attrs = append(attrs, attribute.String("starling.correlation_id", t.CorrelationID))
	}
	ctx, span := tp.Tracer(TracerName).Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	if span.SpanContext().IsValid() {
		c := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, c)
		t.Traceparent = c[HeaderTraceparent]
		ctx = WithTrace(ctx, t)
	}
	return ctx, span
}
