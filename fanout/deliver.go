package fanout

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/signature"
)

// DeliveryStore is what a delivery worker needs of the store.
type DeliveryStore interface {
	ActivityByID(ctx context.Context, id int64) (*starling.Activity, error)
	// SigningKeys returns the key ids and private keys (PEM) of a local
	// account, its RSA key and its Ed25519 key if any; ENOTFOUND when it
	// has no RSA key.
	SigningKeys(ctx context.Context, accountID int64) (starling.SigningKeys, error)
	StatusGone(ctx context.Context, uri string) (bool, error)
	AppendEvents(ctx context.Context, events ...starling.Event) error
	InsertDeadLetter(ctx context.Context, d *starling.DeadLetter) error
	RecordHostFailure(ctx context.Context, host, lastError string, unavailableAfter int) (bool, error)
	RecordHostSuccess(ctx context.Context, host string) error
	FailingHosts(ctx context.Context) ([]starling.HostHealth, error)
	MarkInboxGone(ctx context.Context, inbox string) error
	ClearInboxGone(ctx context.Context, inbox string) error
}

// Knocker signs and sends one delivery attempt, retrying once with the
// other signature standard on a 400 or 401; federation.Knocker is one.
type Knocker interface {
	Do(ctx context.Context, client federation.Doer, build func() (*http.Request, error), keys federation.Keys, body []byte) (*http.Response, error)
}

// Deliverer signs and POSTs deliveries. Every message is acked once its
// outcome is recorded: success, a retry scheduled in the store (an event
// due later), or a dead letter. It is safe for concurrent use.
type Deliverer struct {
	Store     DeliveryStore
	Client    federation.Doer // federation.NewDeliveryClient in serve
	Topology  queue.Topology
	Policy    Policy
	UserAgent string
	Logger    *slog.Logger
	Metrics   *DeliveryMetrics
	Now       func() time.Time // default time.Now
	// Tracer, when set, gives every attempt a client span; nil traces nothing.
	Tracer trace.TracerProvider
	// Knocker, when set, signs and sends each attempt with the signature
	// standard the remote accepts (federation.Knocker); else draft-cavage.
	Knocker Knocker
	// Outcomes, when set, records each attempt's outcome per (activity,
	// inbox), for the operator's backlog and per-post trace: *Outcomes,
	// which batches them.
	Outcomes OutcomeStore
	// States, when set, reads a delivery's recorded state: deliveries a
	// purge already made dead letters are dropped.
	States DeliveryStates
	// Controls, when set, applies what admins decided about hosts: a
	// paused host's deliveries are parked, a suspended host's dead-lettered.
	Controls *Controls

	loading  singleflight.Group
	cache    *lru.Cache[int64, *cachedActivity]
	breakers *lru.Cache[string, *gobreaker.TwoStepCircuitBreaker[struct{}]]
	mu       sync.Mutex
	failing  map[string]bool      // hosts with failures on record, so success writes only when it clears one
	inflight map[string]int       // attempts under way per host, in this process
	retried  map[string]time.Time // the last "retry now" applied per host
}

// OutcomeStore records delivery outcomes.
type OutcomeStore interface {
	RecordDeliveryOutcome(ctx context.Context, host string, o starling.DeliveryOutcome) error
}

// DeliveryStates reads the recorded state of a delivery.
type DeliveryStates interface {
	DeliveryState(ctx context.Context, activityID int64, inbox string) (string, error)
}

// cachedActivity is what a delivery needs, loaded once per activity: the
// payload and the parsed signing key. Deliveries of one post to thousands
// of inboxes share it.
type cachedActivity struct {
	payload   []byte
	typ       string
	objectURI string
	// keys are read again every keyRefresh (refreshKeys): a key rotated
	// since (RotateEd25519Key) signs the deliveries still to go, and their
	// retries, once the remote has fetched the new one.
	keys        atomic.Pointer[federation.Keys]
	keysChecked atomic.Int64 // when keys were last read from the store, Unix nanoseconds

	mu      sync.Mutex
	checked time.Time // when gone was last read from the store
	gone    bool      // the Create's status was deleted: skip it
}

// Open fills the policy's defaults, makes the caches and reads which hosts
// are failing (so that a success clears them). Call it once, before
// HandleDelivery or BreakerState: nothing is loaded on the first message.
// A store that is away is not an error: successes then clear hosts as
// they come.
func (d *Deliverer) Open(ctx context.Context) error {
	d.Policy.fill()
	d.cache, _ = lru.New[int64, *cachedActivity](4096)
	d.breakers, _ = lru.New[string, *gobreaker.TwoStepCircuitBreaker[struct{}]](65536)
	d.failing = map[string]bool{}
	d.inflight = map[string]int{}
	d.retried = map[string]time.Time{}
	hosts, err := d.Store.FailingHosts(ctx)
	if err != nil {
		d.Logger.Warn("could not load failing hosts; successes will clear them as they come", "error", err)
	}
	for _, h := range hosts {
		d.failing[h.Host] = true
	}
	return nil
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// BreakerState returns the state of host's circuit breaker in this
// process: "closed", "open" or "half-open".
func (d *Deliverer) BreakerState(host string) string {
	if d.breakers == nil {
		return gobreaker.StateClosed.String() // not opened: nothing tripped
	}
	if cb, ok := d.breakers.Peek(host); ok {
		return cb.State().String()
	}
	return gobreaker.StateClosed.String()
}

// HostOf is the consumer key of a delivery message: its destination host.
// Deliveries to one host are capped by Policy.PerHost; the subject carries
// the host already, so no decoding is needed.
func HostOf(subject string) string { return subject }

// HandleDelivery is the queue.Handler of the delivery stream. Open must
// have been called.
func (d *Deliverer) HandleDelivery(ctx context.Context, msg queue.Message) error {
	var m queue.DeliveryMessage
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		d.Logger.Error("dropping undecodable delivery", "error", err, "subject", msg.Subject)
		d.Metrics.outcome("undecodable")
		return nil
	}
	u, err := url.Parse(m.Inbox)
	if err != nil || u.Host == "" {
		d.Logger.Error("dropping delivery to a malformed inbox", "inbox", m.Inbox)
		d.Metrics.outcome("undecodable")
		return nil
	}
	host := u.Host
	// Built only when something is worth saying: most deliveries say nothing.
	log := func() *slog.Logger {
		return d.Logger.With("inbox", m.Inbox, "activity_id", m.ActivityID, "attempt", m.Attempt+1,
			"correlation_id", queue.TraceFrom(ctx).CorrelationID)
	}

	act, err := d.activity(ctx, m.ActivityID, m.ActorID)
	if errors.Is(err, starling.ErrNotFound) {
		log().Info("activity or actor gone; nothing to deliver")
		d.Metrics.outcome("gone")
		return nil
	}
	if err != nil {
		return err // the store is away: JetStream brings the message back
	}
	d.refreshKeys(ctx, act, m.ActorID)
	if gone, err := d.superseded(ctx, act); err != nil {
		return err
	} else if gone {
		d.Metrics.outcome("superseded")
		return nil
	}

	if handled, err := d.control(ctx, m, host); handled {
		return err
	}

	cb := d.breaker(host)
	done, err := cb.Allow()
	if err != nil {
		// Open (or probing): wait without a worker, and without counting an attempt.
		wait := d.Policy.BreakerTimeout + time.Duration(rand.Int64N(int64(d.Policy.BreakerTimeout/4)+1))
		d.Metrics.outcome("breaker_wait")
		return d.schedule(ctx, m, host, wait, "wait-"+strconv.FormatInt(d.now().UnixNano(), 36))
	}

	start := time.Now()
	d.countInFlight(host, 1)
	aerr := d.attempt(ctx, m.Inbox, act)
	d.countInFlight(host, -1)
	took := time.Since(start)
	d.Metrics.attempt(host, took)
	if aerr == nil {
		done(nil)
		d.Metrics.outcome("delivered")
		d.record(ctx, host, starling.DeliveryOutcome{ActivityID: m.ActivityID, Inbox: m.Inbox,
			State: starling.DeliveryDelivered, Attempts: m.Attempt + 1, Latency: took})
		d.hostOK(ctx, host)
		if m.Attempt > 0 || m.Replay {
			// A retried or replayed delivery may follow a 410: forget it.
			if err := d.Store.ClearInboxGone(ctx, m.Inbox); err != nil {
				d.Logger.Warn("could not clear gone inbox", "inbox", m.Inbox, "error", err)
			}
		}
		return nil
	}
	if ctx.Err() != nil {
		done(nil) // our shutdown, not the host's fault
		return ctx.Err()
	}
	d.Metrics.failure(aerr.class)
	if aerr.permanent {
		// The host answered; it is up, just refusing this one.
		done(nil)
		if aerr.class == "gone" {
			if err := d.Store.MarkInboxGone(ctx, m.Inbox); err != nil {
				return err
			}
		}
		log().Warn("delivery refused for good; dead-lettered", "error", aerr)
		return d.deadLetter(ctx, m, host, aerr, "permanent")
	}
	done(aerr)
	d.hostFailed(ctx, host, aerr)
	next := m.Attempt + aerr.step
	if next > len(d.Policy.Schedule) {
		log().Warn("delivery attempts exhausted; dead-lettered", "error", aerr)
		return d.deadLetter(ctx, m, host, aerr, "exhausted")
	}
	delay := d.Policy.Schedule[next-1]
	delay = delay - delay/5 + time.Duration(rand.Int64N(int64(delay*2/5)+1)) // ±20%
	if aerr.retryAfter > delay {
		delay = aerr.retryAfter
	}
	if d.Logger.Enabled(ctx, slog.LevelDebug) {
		log().Debug("delivery failed; retry scheduled", "error", aerr, "in", delay)
	}
	if m.Attempt == 0 {
		m.FirstError, m.FirstFailedAt = aerr.Error(), d.now()
	}
	m.Attempt = next
	d.Metrics.outcome("retry_scheduled")
	d.record(ctx, host, starling.DeliveryOutcome{ActivityID: m.ActivityID, Inbox: m.Inbox,
		State: starling.DeliveryPending, Attempts: m.Attempt, LastError: aerr.Error(), LastStatus: aerr.status,
		NextAttempt: d.now().Add(delay)})
	return d.schedule(ctx, m, host, delay, "a"+strconv.Itoa(m.Attempt))
}

// schedule stores m as an event due after delay; the relay publishes it
// then. The suffix makes its message id distinct from earlier attempts'.
func (d *Deliverer) schedule(ctx context.Context, m queue.DeliveryMessage, host string, delay time.Duration, suffix string) error {
	payload, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode retry: %w", err)
	}
	return d.Store.AppendEvents(ctx, starling.Event{
		MsgID:   deliveryMsgID(m.ActivityID, m.Inbox) + "-" + suffix,
		Subject: d.Topology.DeliverySubject(host),
		Payload: payload,
		Headers: queue.TraceFrom(ctx).Headers(),
		DueAt:   d.now().Add(delay),
	})
}

func (d *Deliverer) deadLetter(ctx context.Context, m queue.DeliveryMessage, host string, aerr *attemptError, reason string) error {
	now := d.now()
	dl := &starling.DeadLetter{
		ActivityID: m.ActivityID, ActorID: m.ActorID, Inbox: m.Inbox, Host: host,
		Attempts: m.Attempt + 1, FirstError: m.FirstError, LastError: aerr.Error(),
		FirstFailedAt: m.FirstFailedAt, LastFailedAt: now,
	}
	if dl.FirstError == "" {
		dl.FirstError, dl.FirstFailedAt = dl.LastError, now
	}
	if err := d.Store.InsertDeadLetter(ctx, dl); err != nil {
		return err
	}
	d.Metrics.deadLetter(reason)
	d.record(ctx, host, starling.DeliveryOutcome{ActivityID: m.ActivityID, Inbox: m.Inbox,
		State: starling.DeliveryDead, Attempts: dl.Attempts, LastError: dl.LastError, LastStatus: aerr.status})
	return nil
}

// record notes an outcome for the operator. It is an observation, not the
// delivery's truth (that is the ack, the retry event or the dead letter),
// so a failure to record is logged and the delivery goes on.
func (d *Deliverer) record(ctx context.Context, host string, o starling.DeliveryOutcome) {
	if d.Outcomes == nil {
		return
	}
	if err := d.Outcomes.RecordDeliveryOutcome(ctx, host, o); err != nil {
		d.Logger.Warn("could not record delivery outcome", "inbox", o.Inbox, "activity_id", o.ActivityID, "error", err)
	}
}

// control applies what admins decided about host, and reports whether it
// handled the delivery (with the error to return). Suspended: a dead
// letter (replayable once lifted). Paused: parked as an event far in the
// future, with no attempt counted, until resume brings it due. Purged:
// deliveries the purge already made dead letters are dropped. Retry now:
// the host's breaker is forgotten, so the next attempt goes.
func (d *Deliverer) control(ctx context.Context, m queue.DeliveryMessage, host string) (bool, error) {
	hc, ok := d.Controls.Host(ctx, host)
	if !ok {
		return false, nil
	}
	switch {
	case hc.Suspended:
		d.Metrics.outcome("suspended")
		return true, d.deadLetter(ctx, m, host, &attemptError{class: "suspended", err: errors.New("host suspended by an admin")}, "suspended")
	case hc.Paused:
		d.Metrics.outcome("paused")
		return true, d.schedule(ctx, m, host, starling.ParkedAfter, "park-"+strconv.FormatInt(d.now().UnixNano(), 36))
	}
	if !hc.PurgedAt.IsZero() && d.States != nil {
		state, err := d.States.DeliveryState(ctx, m.ActivityID, m.Inbox)
		if err == nil && state == starling.DeliveryDead && !m.Replay {
			d.Metrics.outcome("purged")
			return true, nil
		}
	}
	if !hc.RetryAt.IsZero() {
		d.mu.Lock()
		fresh := hc.RetryAt.After(d.retried[host])
		if fresh {
			d.retried[host] = hc.RetryAt
		}
		d.mu.Unlock()
		if fresh {
			d.breakers.Remove(host)
		}
	}
	return false, nil
}

func (d *Deliverer) countInFlight(host string, n int) {
	if d.Controls == nil && d.Outcomes == nil {
		return // nobody reads it
	}
	d.mu.Lock()
	if d.inflight[host] += n; d.inflight[host] <= 0 {
		delete(d.inflight, host)
	}
	d.mu.Unlock()
}

// InFlight returns the attempts under way per host in this process.
func (d *Deliverer) InFlight() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.inflight))
	for h, n := range d.inflight {
		out[h] = n
	}
	return out
}

func (d *Deliverer) activity(ctx context.Context, activityID, actorID int64) (*cachedActivity, error) {
	if ca, ok := d.cache.Get(activityID); ok {
		return ca, nil
	}
	// The first deliveries of a post all miss at once (hundreds in flight):
	// one of them loads it, the others wait for its answer.
	v, err, _ := d.loading.Do(strconv.FormatInt(activityID, 10), func() (any, error) {
		if ca, ok := d.cache.Get(activityID); ok {
			return ca, nil
		}
		act, err := d.Store.ActivityByID(ctx, activityID)
		if err != nil {
			return nil, err
		}
		keys, err := d.signingKeys(ctx, actorID)
		if err != nil {
			return nil, err
		}
		now := d.now()
		ca := &cachedActivity{payload: act.Payload, typ: act.Type, objectURI: act.ObjectURI, checked: now}
		ca.keys.Store(keys)
		ca.keysChecked.Store(now.UnixNano())
		d.cache.Add(activityID, ca)
		return ca, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*cachedActivity), nil
}

// signingKeys reads and parses the keys actorID signs with.
func (d *Deliverer) signingKeys(ctx context.Context, actorID int64) (*federation.Keys, error) {
	sk, err := d.Store.SigningKeys(ctx, actorID)
	if err != nil {
		return nil, err
	}
	keys := &federation.Keys{KeyID: sk.KeyID}
	if keys.Key, err = signature.ParsePrivateKey(sk.PEM); err != nil {
		return nil, fmt.Errorf("key of account %d: %w: %w", actorID, err, starling.ErrNotFound)
	}
	if sk.Ed25519PEM != "" {
		// A bad Ed25519 key costs only the newest standard: RSA signs.
		if key, err := signature.ParsePrivateKey(sk.Ed25519PEM); err == nil {
			keys.Ed25519KeyID, keys.Ed25519 = sk.Ed25519KeyID, key
		} else {
			d.Logger.Warn("bad ed25519 key", "account", actorID, "error", err)
		}
	}
	return keys, nil
}

// keyRefresh is how often a cached activity's signing keys are read again.
const keyRefresh = time.Minute

// refreshKeys reads act's signing keys again when they are older than
// keyRefresh; one delivery reads them (the one that wins the swap), the
// others go on with the cached ones meanwhile, and every delivery of a
// post pays only an atomic load. A failed read keeps the cached keys.
func (d *Deliverer) refreshKeys(ctx context.Context, act *cachedActivity, actorID int64) {
	checked, now := act.keysChecked.Load(), d.now()
	if now.Sub(time.Unix(0, checked)) < keyRefresh || !act.keysChecked.CompareAndSwap(checked, now.UnixNano()) {
		return
	}
	keys, err := d.signingKeys(ctx, actorID)
	if err != nil {
		d.Logger.Warn("could not read signing keys again; signing with the cached ones", "account", actorID, "error", err)
		return
	}
	act.keys.Store(keys)
}

// superseded reports whether act is a Create whose status has since been
// deleted. The answer is read from the store at most once a second per
// activity, so a post's thousands of deliveries cost one query a second.
func (d *Deliverer) superseded(ctx context.Context, act *cachedActivity) (bool, error) {
	if act.typ != "Create" || act.objectURI == "" {
		return false, nil
	}
	act.mu.Lock()
	defer act.mu.Unlock()
	if act.gone || d.now().Sub(act.checked) < time.Second {
		return act.gone, nil
	}
	gone, err := d.Store.StatusGone(ctx, act.objectURI)
	if err != nil {
		return false, err
	}
	act.gone, act.checked = gone, d.now()
	return gone, nil
}

func (d *Deliverer) breaker(host string) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	if cb, ok := d.breakers.Get(host); ok {
		return cb
	}
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        host,
		MaxRequests: 1,
		Timeout:     d.Policy.BreakerTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= d.Policy.BreakerFailures },
		OnStateChange: func(name string, from, to gobreaker.State) {
			d.Logger.Info("delivery breaker", "host", name, "from", from.String(), "to", to.String())
			d.Metrics.breakerChange(from, to)
		},
	})
	if prev, ok, _ := d.breakers.PeekOrAdd(host, cb); ok {
		return prev
	}
	return cb
}

func (d *Deliverer) hostOK(ctx context.Context, host string) {
	d.mu.Lock()
	failing := d.failing[host]
	delete(d.failing, host)
	d.mu.Unlock()
	if !failing {
		return
	}
	if err := d.Store.RecordHostSuccess(ctx, host); err != nil {
		d.Logger.Warn("could not record host recovery", "host", host, "error", err)
		return
	}
	d.Logger.Info("host is delivering again", "host", host)
}

func (d *Deliverer) hostFailed(ctx context.Context, host string, aerr *attemptError) {
	d.mu.Lock()
	d.failing[host] = true
	d.mu.Unlock()
	became, err := d.Store.RecordHostFailure(ctx, host, aerr.Error(), d.Policy.UnavailableAfterDays)
	if err != nil {
		d.Logger.Warn("could not record host failure", "host", host, "error", err)
	} else if became {
		d.Logger.Warn("host marked unavailable; new fanouts skip it until a delivery succeeds",
			"host", host, "days", d.Policy.UnavailableAfterDays, "error", aerr)
	}
}

// attemptError is a failed attempt, classified.
type attemptError struct {
	class      string // metric label: http_3xx, http_4xx, http_401, gone, http_5xx, http_429, http_408, timeout, connection, dns, tls, refused_address, request
	status     int
	permanent  bool
	step       int           // how far along the schedule this failure moves (DNS and TLS move faster)
	retryAfter time.Duration // the remote's Retry-After, if any
	err        error
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// attempt builds, signs and sends one POST. The request is built anew from
// the stored payload each time, so a retry after a closed connection never
// sends an empty body, and the signature carries a fresh Date.
func (d *Deliverer) attempt(ctx context.Context, inbox string, act *cachedActivity) (aerr *attemptError) {
	// The span is the parent of the remote's: its traceparent goes out
	// with the request (build, below).
	ctx, span := queue.StartSpan(ctx, d.Tracer, "deliver", trace.SpanKindClient)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("url.full", inbox))
		defer func() {
			if aerr != nil {
				span.SetAttributes(attribute.String("error.type", aerr.class))
				if aerr.status != 0 {
					span.SetAttributes(attribute.Int("http.response.status_code", aerr.status))
				}
				span.SetStatus(codes.Error, aerr.Error())
			}
			span.End()
		}()
	}
	build := func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, inbox, bytes.NewReader(act.payload))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBuild, err)
		}
		req.Header.Set("Content-Type", activitypub.LDContentType)
		req.Header.Set("Accept", activitypub.ContentType)
		req.Header.Set("User-Agent", d.UserAgent)
		queue.TraceFrom(ctx).SetHTTP(req.Header)
		federation.MarkIdempotent(req)
		return req, nil
	}
	var resp *http.Response
	var err error
	keys := act.keys.Load()
	if d.Knocker != nil {
		resp, err = d.Knocker.Do(ctx, d.Client, build, *keys, act.payload)
	} else {
		var req *http.Request
		if req, err = build(); err == nil {
			if err = signature.SignRequest(req, keys.KeyID, keys.Key, act.payload, d.now()); err != nil {
				err = fmt.Errorf("%w: %w", federation.ErrSign, err)
			} else {
				resp, err = d.Client.Do(req)
			}
		}
	}
	if err != nil {
		if errors.Is(err, federation.ErrSign) || errors.Is(err, errBuild) {
			return &attemptError{class: "request", permanent: true, err: err}
		}
		return classifyTransport(err)
	}
	// Read a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return classifyStatus(resp, d.now())
}

// errBuild marks a request that could not be built: no retry can help.
var errBuild = errors.New("cannot build request")

func classifyStatus(resp *http.Response, now time.Time) *attemptError {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	e := &attemptError{status: code, step: 1, err: fmt.Errorf("status %d", code)}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		e.class = "http_429"
		if code == http.StatusServiceUnavailable {
			e.class = "http_5xx"
		}
		e.retryAfter, _ = retryAfter(resp.Header.Get("Retry-After"), now)
	case code == http.StatusRequestTimeout:
		e.class = "http_408"
	case code == http.StatusUnauthorized:
		// Usually the remote could not fetch our key just then (we were
		// restarting, or it was); Mastodon retries 401 for the same reason.
		e.class = "http_401"
	case code >= 500:
		e.class = "http_5xx"
	case code == http.StatusGone:
		e.class, e.permanent = "gone", true
	case code < 400:
		// Not followed: the signature names the target, so the new place
		// could not verify it. Mastodon does not follow them either.
		e.class, e.permanent = "http_3xx", true
	default:
		e.class, e.permanent = "http_4xx", true
	}
	return e
}

func classifyTransport(err error) *attemptError {
	e := &attemptError{class: "connection", step: 1, err: err}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.Is(err, federation.ErrPrivateAddress):
		e.class, e.permanent = "refused_address", true
	case errors.As(err, &dnsErr):
		// A name that does not resolve rarely comes back within minutes:
		// move through the schedule three steps at a time.
		e.class, e.step = "dns", 3
	case errors.As(err, &certErr), errors.As(err, &recErr):
		e.class, e.step = "tls", 3
	case errors.As(err, &netErr) && netErr.Timeout():
		e.class = "timeout"
	}
	return e
}

// retryAfter parses a Retry-After header: seconds or an HTTP date, capped
// at a day so a remote cannot park a delivery forever.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, time.Second), 24*time.Hour), true
}
