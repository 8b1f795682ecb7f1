package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/nats-io/nats.go"
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
