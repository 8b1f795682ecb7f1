package main

import (
	"bytes"
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
	req, _ := http.NewRequest("POST", a.base+"/api/v1/statuses", strings.NewReader(url.Values{"status": {"traced"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("X-Request-Id", id)
	req.Header.Set("traceparent", "00-"+id+"-b7ad6b7169203331-01")
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
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
