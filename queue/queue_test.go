package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/starling-social/starling"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

// natsURL is the NATS server queue tests use: a real one, never a mock.
func natsURL() string {
	if u := os.Getenv("STARLING_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// testJetStream connects to the test NATS server and gives the test its own
// topology (a random prefix), deleting its streams afterwards. Streams
// take the limits of override.
func testJetStream(t *testing.T, override ...Limits) (*Conn, jetstream.JetStream, Topology) {
	t.Helper()
	nc, err := nats.Connect(natsURL(), nats.Timeout(3*time.Second))
	if err != nil {
		t.Fatalf("NATS with JetStream is required for this test and is not reachable at %s: %v\n"+
			"Start it (start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server) "+
			"or point STARLING_TEST_NATS_URL at one.", natsURL(), err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	topo, err := NewTopology("test_" + hex.EncodeToString(b[:]))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var lim Limits
	if len(override) > 0 {
		lim = override[0]
	}
	if err := EnsureStreams(ctx, js, topo, lim); err != nil {
		t.Fatalf("ensure streams (is JetStream enabled on %s?): %v", natsURL(), err)
	}
	t.Cleanup(func() {
		for _, kind := range []string{Outbox, Delivery, Inbox, Timeline} {
			_ = js.DeleteStream(context.Background(), topo.Stream(kind))
		}
	})
	return &Conn{nc: nc, js: js, topo: topo}, js, topo
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestTopology(t *testing.T) {
	topo, err := NewTopology("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		got, want string
	}{
		{topo.Stream(Delivery), "STARLING_DELIVERY"},
		{topo.Subjects(Outbox), "starling.outbox.>"},
		{topo.DeliverySubject("Social.Example:8443"), "starling.delivery.social_example~8443"},
		{topo.DeliverySubject("127.0.0.1:8081"), "starling.delivery.127_0_0_1~8081"},
		{topo.DeliverySubject("a*b>c d"), "starling.delivery.a-b-c-d"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for _, bad := range []string{"Starling", "a.b", "a b", "a>"} {
		if _, err := NewTopology(bad); err == nil {
			t.Errorf("NewTopology(%q): no error", bad)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[uint64]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 30: 10 * time.Minute} {
		for range 50 {
			got := Backoff(n)
			if got < want*3/4 || got > want*5/4 {
				t.Fatalf("Backoff(%d) = %s, want %s ±25%%", n, got, want)
			}
		}
	}
}

// TestConsume checks the ack rules on a real JetStream: nil acks, an
// error brings the message back, Permanent ends it.
func TestConsume(t *testing.T) {
	conn, js, topo := testJetStream(t)
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]int{}
	done := make(chan struct{}, 10)
	c, err := NewConsumer(ctx, conn, ConsumerConfig{
		Kind: Inbox, Durable: "test", Workers: 2, AckWait: 2 * time.Second,
		Backoff: func(uint64) time.Duration { return 50 * time.Millisecond },
		Logger:  discard(),
	}, func(ctx context.Context, msg Message) error {
		mu.Lock()
		seen[string(msg.Data)]++
		n := seen[string(msg.Data)]
		mu.Unlock()
		if TraceFrom(ctx).CorrelationID != "corr-"+string(msg.Data) {
			t.Errorf("message %s: correlation id %q", msg.Data, TraceFrom(ctx).CorrelationID)
		}
		defer func() { done <- struct{}{} }()
		switch string(msg.Data) {
		case "flaky":
			if n < 3 {
				return errors.New("not yet")
			}
		case "poison":
			return Permanent(errors.New("never"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer runConsumer(t, c)()
	for _, body := range []string{"ok", "flaky", "poison"} {
		m := nats.NewMsg(topo.Subject(Inbox, "received"))
		m.Data = []byte(body)
		m.Header.Set(HeaderCorrelation, "corr-"+body)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 { // ok once, flaky three times, poison once
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("handled %v, want ok:1 flaky:3 poison:1", seen)
		}
	}
	time.Sleep(300 * time.Millisecond) // room for a wrong redelivery
	mu.Lock()
	defer mu.Unlock()
	if seen["ok"] != 1 || seen["flaky"] != 3 || seen["poison"] != 1 {
		t.Errorf("handled %v, want ok:1 flaky:3 poison:1", seen)
	}
	info, err := js.Stream(ctx, topo.Stream(Inbox))
	if err != nil {
		t.Fatal(err)
	}
	if msgs := info.CachedInfo().State.Msgs; msgs != 0 {
		t.Errorf("work queue holds %d messages after every ack/term, want 0", msgs)
	}
}

// TestRelay publishes committed events, deletes them, and lets JetStream
// drop a second publication of the same event.
func TestRelay(t *testing.T) {
	conn, js, topo := testJetStream(t)
	db := pgtest.NewDB(t)
	ctx := context.Background()
	actor := &starling.Account{Username: "alice", URI: "http://a.test/users/alice", PublicKeyPEM: "x"}
	if err := db.CreateLocalAccount(ctx, actor, "alice@a.test", "x"); err != nil {
		t.Fatal(err)
	}
	ev := starling.Event{MsgID: "event-1", Subject: topo.Subject(Outbox, "create"), Payload: []byte(`{}`),
		Headers: map[string]string{HeaderCorrelation: "c1"}}
	for i, uri := range []string{"http://a.test/1", "http://a.test/2"} {
		act := &starling.Activity{ID: int64(i + 1), URI: uri, Type: "Create", ActorID: actor.ID, Payload: []byte(`{}`)}
		// The same event twice, as after a relay that died between publish and delete.
		if _, err := db.InsertActivity(ctx, act, ev); err != nil {
			t.Fatal(err)
		}
	}
	r := &Relay{Source: db, Conn: conn, Logger: discard(), Interval: 50 * time.Millisecond}
	rctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() { _ = r.Run(rctx); close(finished) }()
	defer func() { cancel(); <-finished }()

	waitUntil(t, 5*time.Second, func() bool {
		n, _, err := db.EventBacklog(ctx)
		return err == nil && n == 0
	})
	info, err := js.Stream(ctx, topo.Stream(Outbox))
	if err != nil {
		t.Fatal(err)
	}
	if msgs := info.CachedInfo().State.Msgs; msgs != 1 {
		t.Errorf("stream holds %d messages, want 1 (the duplicate dropped by Nats-Msg-Id)", msgs)
	}
	msg, err := info.GetLastMsgForSubject(ctx, topo.Subject(Outbox, "create"))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get(HeaderCorrelation) != "c1" {
		t.Errorf("correlation header %q, want c1", msg.Header.Get(HeaderCorrelation))
	}
}

// runConsumer runs c until the returned function is called, which drains
// it and reports a failed drain.
func runConsumer(t *testing.T, c *Consumer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	}
}

// TestRelayStreamsApart: a full stream holds back its own events and no
// other stream's, since each stream has its own relay loop.
func TestRelayStreamsApart(t *testing.T) {
	conn, js, topo := testJetStream(t, Limits{MaxMsgs: 2})
	db := pgtest.NewDB(t)
	ctx := context.Background()
	for i := range 3 {
		if err := db.AppendEvents(ctx, starling.Event{MsgID: fmt.Sprintf("outbox-%d", i),
			Subject: topo.Subject(Outbox, "create"), Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// Committed after the outbox's, so a relay taking events in one
	// batch across streams would never get past the third outbox event.
	if err := db.AppendEvents(ctx, starling.Event{MsgID: "timeline-1",
		Subject: topo.Subject(Timeline, StatusCreated), Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	r := &Relay{Source: db, Conn: conn, Logger: discard(), Interval: 50 * time.Millisecond}
	rctx, cancel := context.WithCancel(ctx)
	finished := make(chan error, 1)
	go func() { finished <- r.Run(rctx) }()
	msgs := func(kind string) uint64 {
		info, err := js.Stream(ctx, topo.Stream(kind))
		if err != nil {
			t.Fatal(err)
		}
		return info.CachedInfo().State.Msgs
	}
	waitUntil(t, 5*time.Second, func() bool { return msgs(Timeline) == 1 && msgs(Outbox) == 2 })
	// The outbox's batch keeps failing on its third event, so its rows
	// stay (the two published are dropped as duplicates on each retry);
	// the timeline's row goes once its publish is acknowledged, a moment
	// after the message is in its stream.
	var n int64
	var err error
	waitUntil(t, 5*time.Second, func() bool {
		n, _, err = db.EventBacklog(ctx)
		return err == nil && n == 3
	})
	if err != nil || n != 3 {
		t.Errorf("backlog %d (%v), want the three outbox events", n, err)
	}
	cancel()
	if err := <-finished; err != nil {
		t.Errorf("relay: %v", err)
	}
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer collects log lines for a test to read.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, string(p))
	return len(p), nil
}

func (b *logBuffer) count(sub string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, l := range b.lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// TestPoisonMessages: a message whose handler keeps failing (an error or a
// panic) is tried MaxAttempts times, recorded as failed, logged at Warn with
// its error (a panic with its stack), and leaves the stream; retry
// warnings are rate-limited; a RetryAfter never makes a message fail.
func TestPoisonMessages(t *testing.T) {
	conn, js, topo := testJetStream(t)
	db := pgtest.NewDB(t)
	ctx := context.Background()
	logs := &logBuffer{}
	var mu sync.Mutex
	seen := map[string]int{}
	c, err := NewConsumer(ctx, conn, ConsumerConfig{
		Kind: Inbox, Durable: "poison", Workers: 2, AckWait: 2 * time.Second,
		Backoff:     func(uint64) time.Duration { return 20 * time.Millisecond },
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		MaxAttempts: 4, Failures: db, WarnEvery: time.Hour,
	}, func(ctx context.Context, msg Message) error {
		mu.Lock()
		seen[string(msg.Data)]++
		n := seen[string(msg.Data)]
		mu.Unlock()
		switch string(msg.Data) {
		case "error":
			return errors.New("bad message")
		case "panic":
			var m map[string]int
			m["boom"]++ // a nil map: the kind of bug a malformed message finds
		case "busy":
			if n < 6 {
				return RetryAfter(10*time.Millisecond, errors.New("downstream full"))
			}
		case "late": // delivered often, but failed once: not a poison message
			switch {
			case n < 6:
				return RetryAfter(10*time.Millisecond, errors.New("downstream full"))
			case n == 6:
				return errors.New("a passing fault")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer runConsumer(t, c)()
	for _, body := range []string{"error", "panic", "busy", "late"} {
		if _, err := js.Publish(ctx, topo.Subject(Inbox, "received"), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		failed, err := db.FailedMessages(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		info, err := js.Stream(ctx, topo.Stream(Inbox))
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) == 2 && info.CachedInfo().State.Msgs == 0 {
			errs := map[string]string{}
			for _, f := range failed {
				errs[string(f.Payload)] = f.Error
				if f.Attempts != 4 || f.Consumer != "poison" {
					t.Errorf("failed message %+v, want 4 attempts by poison", f)
				}
			}
			if errs["error"] != "bad message" || !strings.Contains(errs["panic"], "assignment to entry in nil map") {
				t.Errorf("recorded errors %q", errs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15s: failed %v, %d messages left in the stream; handled %v", failed, info.CachedInfo().State.Msgs, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // room for a wrong redelivery
	mu.Lock()
	if seen["error"] != 4 || seen["panic"] != 4 || seen["busy"] != 6 || seen["late"] != 7 {
		t.Errorf("handled %v, want error:4 panic:4 busy:6 late:7", seen)
	}
	mu.Unlock()
	if n := logs.count("giving up on message"); n != 2 {
		t.Errorf("%d give-up warnings, want 2", n)
	}
	if n := logs.count("handler panicked"); n != 4 || logs.count("goroutine ") == 0 {
		t.Errorf("%d panic logs (with a stack: %v), want 4", n, logs.count("goroutine ") > 0)
	}
	// One retry warning per subject per WarnEvery (an hour here), not one
	// per attempt.
	if n := logs.count("will retry"); n != 1 {
		t.Errorf("%d retry warnings, want 1 (rate-limited)", n)
	}
}

// laterFunc is a Rescheduler that publishes the message again itself (the
// relay does that in production, once it is due; this one waits at most
// 100ms, so a test need not sit out a real backoff) and counts what it held.
type laterFunc struct {
	js      jetstream.JetStream
	mu      sync.Mutex
	held    int
	headers []map[string]string
}

func (l *laterFunc) Reschedule(ctx context.Context, subject, msgID string, data []byte, headers map[string]string, due time.Time) error {
	l.mu.Lock()
	l.held++
	l.headers = append(l.headers, headers)
	l.mu.Unlock()
	go func() {
		time.Sleep(min(time.Until(due), 100*time.Millisecond))
		m := nats.NewMsg(subject)
		m.Data = data
		for k, v := range headers {
			m.Header.Set(k, v)
		}
		_, _ = l.js.PublishMsg(context.Background(), m, jetstream.WithMsgID(msgID))
	}()
	return nil
}

// TestFailuresDoNotHoldTheWindow: one sender whose 200 messages all fail
// must not stop another's message, even with an ack window of 20. With
// Later set, a failed message is written back and acked, so it holds no
// place in the window while it waits; its attempts are still counted
// across the reschedules, and it is recorded as failed after MaxAttempts.
func TestFailuresDoNotHoldTheWindow(t *testing.T) {
	conn, js, topo := testJetStream(t)
	db := pgtest.NewDB(t)
	ctx := context.Background()
	later := &laterFunc{js: js}
	good := make(chan struct{}, 1)
	c, err := NewConsumer(ctx, conn, ConsumerConfig{
		Kind: Inbox, Durable: "window", Workers: 4, AckWait: 5 * time.Second, MaxAckPending: 20,
		// A long backoff: a failed message that waited in the window
		// would hold it for the whole test.
		Backoff:     func(uint64) time.Duration { return time.Minute },
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxAttempts: 3, Failures: db, Later: later,
	}, func(ctx context.Context, msg Message) error {
		if string(msg.Data) == "good" {
			good <- struct{}{}
			return nil
		}
		return errors.New("the sender's actor cannot be fetched")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer runConsumer(t, c)()
	for i := range 200 {
		if _, err := js.Publish(ctx, topo.Subject(Inbox, "received"), []byte(fmt.Sprint("bad ", i)),
			jetstream.WithMsgID(fmt.Sprint("bad-", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, topo.Subject(Inbox, "received"), []byte("good")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-good:
	case <-time.After(10 * time.Second):
		t.Fatal("the other sender's message was not handled within 10s: failed messages hold the ack window")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		failed, err := db.FailedMessages(ctx, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) == 200 {
			for _, f := range failed[:3] {
				if f.Attempts != 3 {
					t.Errorf("failed message %+v, want 3 attempts", f)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %d of 200 failed messages recorded", len(failed))
		}
		time.Sleep(50 * time.Millisecond)
	}
	later.mu.Lock()
	defer later.mu.Unlock()
	if later.held != 400 {
		t.Errorf("%d messages rescheduled, want 400 (two retries each)", later.held)
	}
}

// TestConsumerDrain: when Run's context ends, an in-flight message
// finishes and is acked before Run returns; past DrainTimeout the
// handler's context is cancelled, Run says so, and the message stays.
func TestConsumerDrain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hold    time.Duration // how long the handler takes, unless cancelled
		drain   time.Duration
		wantErr bool
		left    uint64 // messages left in the stream
	}{
		{"OK", 300 * time.Millisecond, 5 * time.Second, false, 0},
		{"ErrDrainTimeout", time.Minute, 200 * time.Millisecond, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, js, topo := testJetStream(t)
			ctx := context.Background()
			started := make(chan struct{}, 1)
			var finished, cancelled bool
			c, err := NewConsumer(ctx, conn, ConsumerConfig{
				Kind: Inbox, Durable: "drain", Workers: 1, AckWait: 5 * time.Second,
				DrainTimeout: tc.drain, Logger: discard(),
			}, func(ctx context.Context, m Message) error {
				if m.Delivered != 1 || m.Subject != topo.Subject(Inbox, "received") {
					t.Errorf("message %+v", m)
				}
				started <- struct{}{}
				select {
				case <-time.After(tc.hold):
					finished = true
					return nil
				case <-ctx.Done():
					cancelled = true
					return ctx.Err()
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- c.Run(rctx) }()
			if _, err := js.Publish(ctx, topo.Subject(Inbox, "received"), []byte("x")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("the message was not handled")
			}
			cancel()
			err = <-done
			if (err != nil) != tc.wantErr {
				t.Errorf("Run: %v, want an error: %v", err, tc.wantErr)
			}
			if finished == tc.wantErr || cancelled != tc.wantErr {
				t.Errorf("handler finished %v, cancelled %v", finished, cancelled)
			}
			waitUntil(t, 2*time.Second, func() bool { // the ack is sent, not awaited
				info, err := js.Stream(ctx, topo.Stream(Inbox))
				return err == nil && info.CachedInfo().State.Msgs == tc.left
			})
		})
	}
}

// TestEnsureStreamsReplicas: streams take the replicas asked for (one by
// default), and replicas the server cannot keep are an error naming the
// stream and the replicas, not a silent single copy.
func TestEnsureStreamsReplicas(t *testing.T) {
	_, js, topo := testJetStream(t)
	ctx := context.Background()
	for _, kind := range []string{Outbox, Delivery, Inbox, Timeline} {
		s, err := js.Stream(ctx, topo.Stream(kind))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 1 {
			t.Errorf("stream %s: %d replicas by default, want 1", topo.Stream(kind), got)
		}
	}
	// The test server is one server, not a cluster.
	err := EnsureStreams(ctx, js, topo, Limits{Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), topo.Stream(Outbox)) || !strings.Contains(err.Error(), "3 replicas") {
		t.Fatalf("three replicas on one server: %v, want an error naming the stream and the replicas", err)
	}
}
