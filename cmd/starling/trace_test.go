package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects log lines from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines(with string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, with) {
			out = append(out, l)
		}
	}
	return out
}

// TestTraceAcrossServers: one post's correlation id, given by the client
// as X-Request-Id, is in the logs of every step on both servers: the API
// and fanout on A, the inbox and the processor on B (docs/tracing.md
// shows such a trace). The delivery carries it, with traceparent.
func TestTraceAcrossServers(t *testing.T) {
	var logA, logB lockedBuffer
	debug := &slog.HandlerOptions{Level: slog.LevelDebug}
	a := startLogged(t, "A", slog.New(slog.NewTextHandler(&logA, debug)).With("server", "A"))
	b := startLogged(t, "B", slog.New(slog.NewTextHandler(&logB, debug)).With("server", "B"))
	alice, bob := a.user("alice"), b.user("bob")
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))

	const id = "0af7651916cd43dd8448eb211c80319c"
	resp := postTraced(t, a, alice, "traced", map[string]string{"X-Request-Id": id, "traceparent": "00-" + id + "-b7ad6b7169203331-01"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") != id {
		t.Fatalf("post: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	waitFor(t, 20*time.Second, "the id in A's fanout and in B's inbox logs", func() bool {
		return len(logA.lines("correlation_id="+id)) > 0 && len(logB.lines("correlation_id="+id)) > 0
	})
	for _, l := range append(logA.lines("correlation_id="+id), logB.lines("correlation_id="+id)...) {
		t.Log(l)
	}
	if got := logB.lines("correlation_id=" + id); !strings.Contains(strings.Join(got, "\n"), "accepted activity") {
		t.Errorf("B's inbox did not log the delivery with the post's id: %v", got)
	}
}

// span is the part of a span, as the console exporter writes it, that
// the trace test reads.
type span struct {
	Name        string
	SpanKind    int
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct {
		TraceID, SpanID string
		Remote          bool
	}
	Attributes []struct {
		Key   string
		Value struct{ Value any }
	}
}

func (s span) attr(key string) any {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.Value
		}
	}
	return nil
}

// readSpans decodes the console exporter's output: one JSON object per span.
func readSpans(t *testing.T, b *lockedBuffer) []span {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []span
	dec := json.NewDecoder(bytes.NewReader(b.buf.Bytes()))
	for dec.More() {
		var s span
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("decoding the exporter's spans: %v", err)
		}
		out = append(out, s)
	}
	return out
}

// TestOpenTelemetryAcrossServers: with OTEL_TRACES_EXPORTER=console on two
// servers, one post is one trace: the client's traceparent starts it, and
// A's API request, fanout, delivery and delivery attempt, and B's inbox
// request, inbox processing and timeline write are spans of it, B's inbox
// request a child of A's delivery attempt (docs/tracing.md shows it).
func TestOpenTelemetryAcrossServers(t *testing.T) {
	var spansA, spansB lockedBuffer
	tracing := func(out *lockedBuffer) func(*Config) {
		return func(c *Config) {
			c.tracing = readTracingEnv(func(k string) string {
				return map[string]string{"OTEL_TRACES_EXPORTER": "console"}[k]
			})
			c.traceOutput = out
		}
	}
	a := startInstance(t, "A", tracing(&spansA))
	b := startInstance(t, "B", tracing(&spansB))
	alice, bob := a.user("alice"), b.user("bob")
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp := postTraced(t, a, alice, "traced with OpenTelemetry", map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
	var st struct{ URI string }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("post: %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	waitFor(t, 20*time.Second, "the post in bob's home feed on B", func() bool { return b.home(bob, st.URI) == 1 })
	// Closing flushes the exporters' batches.
	for _, in := range []*instance{a, b} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := in.srv.Close(ctx); err != nil {
			t.Logf("close %s: %v", in.name, err)
		}
		cancel()
	}

	byName := map[string]map[string]span{"A": {}, "B": {}}
	for server, buf := range map[string]*lockedBuffer{"A": &spansA, "B": &spansB} {
		for _, s := range readSpans(t, buf) {
			if s.SpanContext.TraceID != traceID {
				continue
			}
			byName[server][s.Name] = s
			t.Logf("%s %-26s trace=%s span=%s parent=%s remote=%v", server, s.Name, s.SpanContext.TraceID, s.SpanContext.SpanID, s.Parent.SpanID, s.Parent.Remote)
		}
	}
	for _, want := range []struct{ server, name string }{
		{"A", "POST /api/v1/statuses"},
		{"A", "consume fanout"},
		{"A", "consume delivery"},
		{"A", "deliver"},
		{"B", "POST /inbox"},
		{"B", "consume inbox"},
		{"B", "consume timeline"},
	} {
		if _, ok := byName[want.server][want.name]; !ok {
			t.Errorf("%s has no span %q in trace %s", want.server, want.name, traceID)
		}
	}
	if api := byName["A"]["POST /api/v1/statuses"]; api.Parent.SpanID != "00f067aa0ba902b7" || !api.Parent.Remote {
		t.Errorf("A's API span's parent = %+v, want the client's span 00f067aa0ba902b7", api.Parent)
	}
	deliver, inbox := byName["A"]["deliver"], byName["B"]["POST /inbox"]
	if inbox.Parent.SpanID == "" || inbox.Parent.SpanID != deliver.SpanContext.SpanID || !inbox.Parent.Remote {
		t.Errorf("B's inbox span's parent = %+v, want A's delivery attempt %s", inbox.Parent, deliver.SpanContext.SpanID)
	}
	if got := byName["B"]["consume inbox"].attr("starling.correlation_id"); got == nil || got == "" {
		t.Errorf("B's inbox processing span has no correlation id")
	}
}

// postTraced posts a status with the given trace headers.
func postTraced(t *testing.T, in *instance, token, text string, headers map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", in.base+"/api/v1/statuses", strings.NewReader(url.Values{"status": {text}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
