package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/starling-social/starling/store/postgres/pgtest"
)

// TestMonitorNATSDown: when NATS goes away the monitor pushes back within
// a poll, saying why, instead of keeping its last healthy state (its own
// read deadline is not a shutdown).
func TestMonitorNATSDown(t *testing.T) {
	topo, err := NewTopology("mon")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Dial("", t.TempDir(), "monitor test", topo)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if err := conn.EnsureStreams(ctx, Limits{MaxMsgs: 100}); err != nil {
		t.Fatal(err)
	}
	m := &Monitor{Conn: conn, Store: pgtest.NewDB(t), Logger: discard(), HighWater: 0.8, MaxRelayAge: time.Minute}
	m.poll(ctx)
	if over, why := m.Pressure(); over {
		t.Fatalf("pressure with NATS up: %s", why)
	}
	if err := conn.Ready(); err != nil {
		t.Fatalf("not ready with NATS up: %v", err)
	}
	conn.embedded.Shutdown()
	conn.embedded.WaitForShutdown()
	m.poll(ctx)
	if over, why := m.Pressure(); !over || why == "" {
		t.Errorf("no pressure with NATS down (%v, %q)", over, why)
	}
	if err := conn.Ready(); err == nil {
		t.Error("ready with NATS down")
	}
}

// TestPublishNATSDown: with the connection down, a publication fails at
// once with ErrNotConnected instead of waiting PublishTimeout for
// acknowledgements (the relay holds a store connection meanwhile), and
// the relay claims no events.
func TestPublishNATSDown(t *testing.T) {
	topo, err := NewTopology("pubdown")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Dial("", t.TempDir(), "publish test", topo)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if err := conn.EnsureStreams(ctx, Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Publish(ctx, topo.Subject(Outbox, "create"), "up-1", []byte("{}")); err != nil {
		t.Fatalf("publish with NATS up: %v", err)
	}
	conn.embedded.Shutdown()
	conn.embedded.WaitForShutdown()
	err = conn.Publish(ctx, topo.Subject(Outbox, "create"), "down-1", []byte("{}"))
	if !errors.Is(err, ErrNotConnected) {
		t.Fatalf("publish with NATS down: %v, want ErrNotConnected", err)
	}
}
