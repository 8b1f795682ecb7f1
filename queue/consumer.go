package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Message is one message off a stream, as a handler sees it.
type Message struct {
	Subject string
	Data    []byte
	// Trace is the message's correlation id and traceparent (a new
	// correlation id when it carried none); the handler's context carries
	// it too (TraceFrom).
	Trace Trace
	// Delivered is how many times JetStream delivered the message, this
	// time included: 1 the first time. Deferrals behind a busy key and
	// RetryAfter count too; the consumer's own failure count, which
	// MaxAttempts bounds, does not show here.
	Delivered uint64
}

// Handler processes one message. Returning nil acks it; the effect it had
// must already be committed. Any other result leaves the message to be
// delivered again, so a handler must be idempotent.
type Handler func(ctx context.Context, m Message) error

type retryError struct {
	after time.Duration
	err   error
}

func (e *retryError) Error() string { return fmt.Sprintf("retry in %s: %v", e.after, e.err) }
func (e *retryError) Unwrap() error { return e.err }

// RetryAfter asks for the message again after d, instead of the consumer's
// own backoff (a remote's Retry-After, say).
func RetryAfter(d time.Duration, err error) error { return &retryError{after: d, err: err} }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one a retry cannot fix: the message is acked
// (never delivered again), logged and counted. The handler records the
// failure (a dead letter, say) before returning it.
func Permanent(err error) error { return &permanentError{err: err} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Backoff returns the delay before attempt n+1 (n >= 1): doubling from one
// second to a cap of ten minutes, with ±25% jitter so that messages that
// failed together do not come back together.
func Backoff(n uint64) time.Duration {
	d := time.Second
	for i := uint64(1); i < n && d < 10*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 10*time.Minute)
	return d - d/4 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// DefaultMaxAttempts is how many times a consumer tries a message whose
// handler keeps failing before it gives up on it.
const DefaultMaxAttempts = 10

// FailureRecorder keeps the messages a consumer gave up on, for the admin
// (a *postgres.DB is one). An error leaves the message in the stream, to be
// recorded on a later attempt: nothing leaves unrecorded.
type FailureRecorder interface {
	RecordFailedMessage(ctx context.Context, consumer, subject string, payload []byte, attempts int, errText string) error
}

// Rescheduler stores a message to be published again at due (the store's
// events table, through the relay, is one).
type Rescheduler interface {
	Reschedule(ctx context.Context, subject, msgID string, data []byte, headers map[string]string, due time.Time) error
}

// AttemptHeader counts the failed attempts of a rescheduled message.
const AttemptHeader = "Starling-Attempt"

// ConsumerConfig describes a durable consumer on one stream.
type ConsumerConfig struct {
	Kind    string // stream kind: Outbox, Delivery, Inbox, Timeline
	Durable string // durable name; consumers with the same name share the work
	Workers int    // messages processed at once; default 4
	// AckWait is how long a message may be in progress before JetStream
	// delivers it again; default one minute. Handlers must finish well
	// within it.
	AckWait time.Duration
	// DrainTimeout bounds how long Run, once its context ends, lets
	// in-flight messages finish before cancelling their handlers' context;
	// default 30 seconds.
	DrainTimeout time.Duration
	// Backoff overrides the delay after a failed attempt; default Backoff.
	Backoff func(attempt uint64) time.Duration
	Logger  *slog.Logger
	Metrics *Metrics
	// Tracer, when set, gives every message a span (a child of the span
	// that published it, through the traceparent header) around its
	// handler; nil traces nothing.
	Tracer trace.TracerProvider

	// KeyOf, when set, partitions messages by key (the destination host of
	// a delivery): at most PerKey messages of one key are handled at once,
	// and messages of a key at its cap wait, holding no worker, so one
	// slow key never starves the others. When MaxWaitingPerKey wait
	// already, further messages of that key are handed back to JetStream
	// for a second or two.
	// KeyOf is given the message's subject.
	KeyOf            func(subject string) string
	PerKey           int // default 4
	MaxWaitingPerKey int // default 64
	// MaxAckPending bounds the messages held (waiting or in progress); default Workers*64.
	MaxAckPending int

	// MaxAttempts bounds the deliveries of a message whose handler fails
	// (errors, panics); default DefaultMaxAttempts. Then the message is
	// recorded in Failures, logged, counted as "failed", and acked. A
	// RetryAfter error is the handler saying when to come back (a full
	// stream downstream), and does not make a message fail.
	MaxAttempts int
	Failures    FailureRecorder
	// Later, when set, holds a failed message's next attempt outside
	// JetStream: the message is written back (as an event due after the
	// backoff, which the relay publishes then) and acked, so messages
	// waiting for a retry hold no place in the ack window, and one sender
	// whose activities keep failing cannot stop everyone else's. Without
	// it, a failed message is naked with the delay and waits in the
	// window. The attempt count travels in the AttemptHeader.
	Later Rescheduler
	// WarnEvery is the least time between two warnings of failed
	// attempts on one subject; default 10 seconds. The rest are counted
	// and reported with the next warning.
	WarnEvery time.Duration
}

// keyState is one key's share of the consumer. Lock c.mu to touch it.
type keyState struct {
	running int
	waiting []jetstream.Msg
}

// Consumer runs a Handler over a durable consumer with a bounded number of
// workers. NewConsumer creates it; Run handles messages until its context
// ends, then drains.
type Consumer struct {
	cfg      ConsumerConfig
	spanName string // made once: "consume " + Durable
	h        Handler
	cons     jetstream.Consumer
	cc       jetstream.ConsumeContext
	work     chan work // to the worker goroutines; unbuffered, so a full pool blocks dispatch
	wg       sync.WaitGroup
	ctx      context.Context // the workers' context, cancelled only by the drain deadline
	cancel   context.CancelFunc

	quit chan struct{} // closed when draining starts: take no more waiting messages

	warn warnLimiter

	fmu      sync.Mutex
	failures map[uint64]int // stream sequence → handler failures seen by this process

	mu       sync.Mutex
	keys     map[string]*keyState
	waiting  int                    // messages waiting across keys
	inflight map[jetstream.Msg]bool // messages being handled
	stopping bool                   // set when draining starts
}

// NewConsumer creates (or updates) the durable consumer on conn's stream of
// cfg.Kind; Run handles its messages. Acks are explicit and sent only
// after h returns nil.
func NewConsumer(ctx context.Context, conn *Conn, cfg ConsumerConfig, h Handler) (*Consumer, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = time.Minute
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PerKey <= 0 {
		cfg.PerKey = 4
	}
	if cfg.MaxWaitingPerKey <= 0 {
		cfg.MaxWaitingPerKey = 64
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = cfg.Workers * 64
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.WarnEvery <= 0 {
		cfg.WarnEvery = 10 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	t := conn.topo
	cfg.Logger = cfg.Logger.With("consumer", cfg.Durable)
	stream := t.Stream(cfg.Kind)
	cons, err := conn.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:   cfg.Durable,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   cfg.AckWait,
		// The consumer gives up itself (MaxAttempts), recording the
		// message: JetStream's MaxDeliver would leave it in the
		// work-queue stream unacked, as backlog forever.
		MaxDeliver:    -1,
		MaxAckPending: cfg.MaxAckPending,
		FilterSubject: t.Subjects(cfg.Kind),
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", cfg.Durable, stream, err)
	}
	return &Consumer{cfg: cfg, spanName: "consume " + cfg.Durable, h: h, cons: cons, work: make(chan work), keys: map[string]*keyState{}, quit: make(chan struct{}),
		inflight: map[jetstream.Msg]bool{}, warn: warnLimiter{every: cfg.WarnEvery}}, nil
}

// Run fetches and handles messages until ctx ends, then drains: it stops
// fetching, hands waiting messages back at once, and lets in-flight ones
// finish for up to DrainTimeout before cancelling their context (an
// unfinished message is not acked and comes back). It returns nil after a
// clean drain. Run is called once.
func (c *Consumer) Run(ctx context.Context) error {
	// Handlers run on past ctx's end, until the drain deadline.
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer c.cancel()
	var err error
	c.cc, err = c.cons.Consume(c.dispatch,
		jetstream.PullMaxMessages(c.cfg.Workers*2),
		// Pull requests live 5 s (heartbeats every 2.5 s) rather than
		// the client's 30 s: a pull left at a NATS node that died, or at
		// a consumer leader that moved, is noticed and made again within
		// 5 s instead of 30, so work resumes that much sooner
		// (TestClusterSurvivesKills).
		jetstream.PullExpiry(5*time.Second),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				c.cfg.Logger.Debug("consume", "error", err)
			}
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.cfg.Durable, err)
	}
	c.wg.Add(1 + c.cfg.Workers)
	go c.heartbeats()
	for range c.cfg.Workers {
		go c.worker()
	}
	<-ctx.Done()
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.DrainTimeout)
	defer cancel()
	return c.stop(drain)
}

// dispatch runs on the client's delivery goroutine; blocking until a
// worker is free is the backpressure that keeps at most Workers in flight.
func (c *Consumer) dispatch(msg jetstream.Msg) {
	var key string
	if c.cfg.KeyOf != nil {
		key = c.cfg.KeyOf(msg.Subject())
		c.mu.Lock()
		ks := c.keys[key]
		if ks == nil {
			ks = &keyState{}
			c.keys[key] = ks
		}
		if ks.running >= c.cfg.PerKey {
			if len(ks.waiting) >= c.cfg.MaxWaitingPerKey {
				c.mu.Unlock()
				// Hand it back rather than hold it: this key is backed up.
				_ = msg.NakWithDelay(time.Second + time.Duration(rand.Int64N(int64(time.Second))))
				c.cfg.Metrics.observe(c.cfg.Durable, "deferred", 0)
				return
			}
			ks.waiting = append(ks.waiting, msg)
			c.waiting++
			c.mu.Unlock()
			return
		}
		ks.running++
		c.mu.Unlock()
	}
	select {
	case c.work <- work{msg: msg, key: key}:
	case <-c.quit:
		// Shutting down: never acked, so JetStream delivers it again after AckWait.
		c.next(key)
	}
}

// work is one message for a worker, with its key.
type work struct {
	msg jetstream.Msg
	key string
}

// worker handles messages until draining starts. Workers live as long as the
// consumer: a goroutine per message would grow a fresh stack for every
// delivery's deep signing call.
func (c *Consumer) worker() {
	defer c.wg.Done()
	for {
		select {
		case w := <-c.work:
			for msg := w.msg; msg != nil; msg = c.next(w.key) {
				c.handle(msg)
			}
		case <-c.quit:
			return
		}
	}
}

// next returns the next waiting message of key, or nil after releasing
// the key's slot. Taking it here, on the worker that just finished, keeps
// the key's order and its cap without a scheduler goroutine.
func (c *Consumer) next(key string) jetstream.Msg {
	if c.cfg.KeyOf == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ks := c.keys[key]
	if len(ks.waiting) > 0 && !c.stopping {
		msg := ks.waiting[0]
		ks.waiting[0] = nil
		ks.waiting = ks.waiting[1:]
		c.waiting--
		return msg
	}
	ks.running--
	if ks.running == 0 && len(ks.waiting) == 0 {
		delete(c.keys, key)
	}
	return nil
}

// heartbeats tells JetStream every AckWait/3 that held messages are still
// being worked on, so a short AckWait (which brings back a dead process's
// messages quickly) never redelivers one that a live process is handling
// or holding behind its key. On shutdown it hands waiting messages back.
// One goroutine for all messages: a timer per message would cost more
// than the rest of a delivery's bookkeeping.
func (c *Consumer) heartbeats() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			c.mu.Lock()
			for _, ks := range c.keys {
				for _, msg := range ks.waiting {
					_ = msg.Nak() // another process may take it at once
				}
				ks.waiting = nil
			}
			c.waiting = 0
			c.mu.Unlock()
			return
		case <-t.C:
			c.mu.Lock()
			var held []jetstream.Msg
			for _, ks := range c.keys {
				held = append(held, ks.waiting...)
			}
			for msg := range c.inflight {
				held = append(held, msg)
			}
			c.mu.Unlock()
			for _, msg := range held {
				_ = msg.InProgress()
			}
		}
	}
}

// Backlog returns how many messages wait in memory behind their key, and
// the keys with the most waiting (at most n), for the admin view.
func (c *Consumer) Backlog(n int) (total int, top map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	top = map[string]int{}
	for k, ks := range c.keys {
		if w := len(ks.waiting) + ks.running; w > 0 {
			top[k] = w
		}
	}
	for len(top) > n {
		minK, minV := "", int(^uint(0)>>1)
		for k, v := range top {
			if v < minV {
				minK, minV = k, v
			}
		}
		delete(top, minK)
	}
	return c.waiting, top
}

func (c *Consumer) handle(msg jetstream.Msg) {
	m := Message{Subject: msg.Subject(), Data: msg.Data(), Trace: traceFromNATS(msg.Headers())}
	tr := m.Trace
	ctx, span := StartSpan(WithTrace(c.ctx, tr), c.cfg.Tracer, c.spanName, trace.SpanKindConsumer)
	recording := span.IsRecording() // off by default: nothing more to build per message
	if recording {
		span.SetAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", msg.Subject()))
		defer span.End()
	}
	start := time.Now()
	c.mu.Lock()
	c.inflight[msg] = true
	c.mu.Unlock()
	var seq, delivered uint64
	if md, merr := msg.Metadata(); merr == nil {
		seq, delivered = md.Sequence.Stream, md.NumDelivered
	}
	m.Delivered = delivered
	err := c.run(ctx, m)
	c.mu.Lock()
	delete(c.inflight, msg)
	c.mu.Unlock()
	// Built only when there is something to say: most messages say nothing.
	log := func() *slog.Logger {
		return c.cfg.Logger.With("subject", msg.Subject(), "correlation_id", tr.CorrelationID)
	}
	outcome := "ack"
	if recording && err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	switch {
	case err == nil:
		c.forgetFailures(seq)
		if aerr := msg.Ack(); aerr != nil {
			log().Warn("ack failed; the message will come again", "error", aerr)
		}
	case IsPermanent(err):
		// Acked, not terminated: a terminated message stays in a work-queue
		// stream on nats-server before 2.10, counting as backlog forever.
		// Whoever returns Permanent has already recorded the failure.
		c.forgetFailures(seq)
		outcome = "permanent"
		log().Warn("giving up on message", "error", err)
		_ = msg.Ack()
	case c.ctx.Err() != nil:
		outcome = "abandoned" // shutting down: left for the next process
	default:
		var r *retryError
		isRetryAfter := errors.As(err, &r)
		n := c.countFailure(seq, delivered, !isRetryAfter)
		if prior, perr := strconv.Atoi(msg.Headers().Get(AttemptHeader)); perr == nil && !isRetryAfter {
			n += prior // attempts made before it was rescheduled
		}
		// Failures are counted here, not by JetStream's delivery count,
		// which also counts deferrals behind a busy key and RetryAfter;
		// the delivery count is still a backstop, at ten times the
		// limit, for a message whose failures this process never saw
		// (one that kills the process, say).
		if !isRetryAfter && (n >= c.cfg.MaxAttempts || delivered >= uint64(10*c.cfg.MaxAttempts)) {
			c.forgetFailures(seq)
			outcome = c.giveUp(ctx, msg, max(n, int(min(delivered, uint64(c.cfg.MaxAttempts)))), err, log)
			break
		}
		outcome = "retry"
		delay := c.cfg.Backoff(uint64(max(n, 1)))
		if isRetryAfter {
			delay = r.after
		}
		if suppressed, ok := c.warn.allow(msg.Subject(), time.Now()); ok {
			log().Warn("handler failed; will retry", "error", err, "attempt", n, "delay", delay,
				"suppressed_since_last", suppressed)
		}
		if !isRetryAfter && c.cfg.Later != nil {
			rerr := c.reschedule(ctx, msg, n, delay)
			if rerr == nil {
				c.forgetFailures(seq)
				outcome = "rescheduled"
				break
			}
			log().Warn("could not reschedule a failed message; it waits in the stream", "error", rerr)
		}
		_ = msg.NakWithDelay(delay)
	}
	c.cfg.Metrics.observe(c.cfg.Durable, outcome, time.Since(start))
	if recording {
		span.SetAttributes(attribute.String("starling.outcome", outcome))
	}
}

// panicError is a handler's panic, with the stack where it happened.
type panicError struct {
	value any
	stack string
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v\n%s", e.value, e.stack) }

func (c *Consumer) run(ctx context.Context, msg Message) (err error) {
	defer func() {
		// A bug in one message must not take the whole role down; the
		// message comes back later (until MaxAttempts) and the panic,
		// with its stack, is in the logs.
		if p := recover(); p != nil {
			pe := &panicError{value: p, stack: string(debug.Stack())}
			c.cfg.Logger.Error("handler panicked", "subject", msg.Subject, "panic", fmt.Sprint(p), "stack", pe.stack)
			err = pe
		}
	}()
	return c.h(ctx, msg)
}

// countFailure counts a failed attempt of the message at stream sequence
// seq (when count is set) and returns the failures seen so far. Without a
// sequence (no metadata) the delivery count stands in.
func (c *Consumer) countFailure(seq, delivered uint64, count bool) int {
	if seq == 0 {
		return int(delivered)
	}
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if c.failures == nil || len(c.failures) > 100_000 {
		// Entries of messages another process finished are never
		// forgotten here: start over rather than grow.
		c.failures = map[uint64]int{}
	}
	if count {
		c.failures[seq]++
	}
	return c.failures[seq]
}

// reschedule writes msg back to be published after delay, with its
// attempt count, and acks it. The new message id names the attempt, so
// JetStream's duplicate window does not drop it.
func (c *Consumer) reschedule(ctx context.Context, msg jetstream.Msg, attempts int, delay time.Duration) error {
	headers := map[string]string{}
	for k, v := range msg.Headers() {
		if len(v) > 0 && k != jetstream.MsgIDHeader {
			headers[k] = v[0]
		}
	}
	headers[AttemptHeader] = strconv.Itoa(attempts)
	id := msg.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		if md, err := msg.Metadata(); err == nil {
			id = c.cfg.Durable + "-" + strconv.FormatUint(md.Sequence.Stream, 10)
		}
	}
	if base, _, ok := strings.Cut(id, "#retry"); ok {
		id = base
	}
	id += "#retry" + strconv.Itoa(attempts)
	if err := c.cfg.Later.Reschedule(ctx, msg.Subject(), id, msg.Data(), headers, time.Now().Add(delay)); err != nil {
		return err
	}
	return msg.Ack()
}

func (c *Consumer) forgetFailures(seq uint64) {
	c.fmu.Lock()
	delete(c.failures, seq)
	c.fmu.Unlock()
}

// giveUp records a message that failed MaxAttempts times and acks it, so
// that a poison message neither loops forever nor holds a place in the
// ack window. When it cannot be recorded it stays, to be tried again.
func (c *Consumer) giveUp(ctx context.Context, msg jetstream.Msg, attempts int, err error, log func() *slog.Logger) string {
	if c.cfg.Failures != nil {
		if rerr := c.cfg.Failures.RecordFailedMessage(ctx, c.cfg.Durable, msg.Subject(), msg.Data(), attempts, err.Error()); rerr != nil {
			log().Warn("could not record a failed message; it stays queued", "error", rerr, "handler_error", err)
			_ = msg.NakWithDelay(c.cfg.Backoff(uint64(attempts)))
			return "retry"
		}
	}
	log().Warn("giving up on message after repeated failures", "attempts", attempts, "error", err)
	// Acked, not terminated: see the Permanent case in handle.
	if aerr := msg.Ack(); aerr != nil {
		log().Warn("ack of a failed message failed; it will come again", "error", aerr)
	}
	return "failed"
}

// warnLimiter lets one warning per key through every so often, counting
// the ones it holds back: a poison message or a host that is down must not
// flood the log, yet must not be silent either.
type warnLimiter struct {
	every      time.Duration
	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

// allow reports whether to warn about key now, and how many warnings were
// held back since the last one.
func (l *warnLimiter) allow(key string, now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.suppressed = map[string]time.Time{}, map[string]int{}
	}
	if t, ok := l.last[key]; ok && now.Sub(t) < l.every {
		l.suppressed[key]++
		return 0, false
	}
	if len(l.last) > 10_000 {
		clear(l.last) // many keys (hosts): forget them all rather than grow
		clear(l.suppressed)
	}
	n := l.suppressed[key]
	delete(l.suppressed, key)
	l.last[key] = now
	return n, true
}

// stop stops fetching, lets in-flight messages finish until ctx is done,
// then cancels them; unfinished messages are not acked and come back.
func (c *Consumer) stop(ctx context.Context) error {
	c.cc.Stop()
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
	close(c.quit)
	// The client's delivery goroutine may be in dispatch, which returns
	// now that quit is closed: wait for it, so nothing of the consumer
	// runs after Run returns.
	select {
	case <-c.cc.Closed():
	case <-ctx.Done():
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		c.cancel()
		return nil
	case <-ctx.Done():
		c.cancel()
		<-done
		return fmt.Errorf("drain consumer %s: %w", c.cfg.Durable, ctx.Err())
	}
}
