package fanout

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/queue"
)

// OperatorStore is what the operator's view and actions need of the store.
// Every action is audited in its own transaction (who, what, target).
type OperatorStore interface {
	ReplayStore
	HostBacklog(ctx context.Context, f starling.HostBacklogFilter) ([]starling.HostBacklog, error)
	DeliveryTrace(ctx context.Context, statusID int64) ([]starling.DeliveryTrace, error)
	DeadLetters(ctx context.Context, f starling.DeadLetterFilter) ([]starling.DeadLetter, error)
	KnownHost(ctx context.Context, host string) (bool, error)
	HostQueue(ctx context.Context, host string, limit int) ([]starling.DeliveryTrace, error)
	HostAttempts(ctx context.Context, host string, limit int) ([]starling.DeliveryAttempt, error)
	PauseHost(ctx context.Context, actor, host, subject string, paused bool) (int64, error)
	SuspendHost(ctx context.Context, actor, host string, suspended bool) error
	RetryHost(ctx context.Context, actor, host, subject string) (int64, error)
	PurgeHost(ctx context.Context, actor, host, subject string) (int64, error)
	ClearHostFailures(ctx context.Context, actor, host string) error
	RecordAdminAction(ctx context.Context, a starling.AdminAction) error
	AdminActions(ctx context.Context, limit int) ([]starling.AdminAction, error)
	DeliveryHistory(ctx context.Context, since time.Time, step time.Duration) ([]starling.DeliveryRate, error)
}

// Operator is the admin's view of the delivery backlog and the actions
// that steer it, shared by the admin API, the CLI and the admin page.
//
// Where the figures come from: pending, oldest, attempts, next attempt,
// delivered counts and latency are read from the deliveries rows, because
// per host the queue knows nothing reliable: a work-queue stream's
// message count keeps acknowledged messages after a nats-server 2.9 crash,
// the consumer's pending and ack floor are per consumer (not per host),
// and retries wait as events rows, outside the stream altogether. The
// consumer's figures (Reporter, queue.Monitor) stay the global check.
// In flight and the breaker are this process's deliverer's memory.
type Operator struct {
	Store     OperatorStore
	Topology  queue.Topology
	Deliverer *Deliverer // nil in the CLI: no in-flight counts, breakers "unknown"

	historyMu sync.Mutex
	history   map[int]cachedHistory // by hours; see History
}

var hostPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)

// CheckHost normalises host and refuses what cannot be one.
func CheckHost(host string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(host))
	if h == "" || len(h) > 253 || !hostPattern.MatchString(h) {
		return "", starling.Errorf(starling.EINVALID, "%q is not a host name", host)
	}
	return h, nil
}

// Backlog returns the host table.
func (o *Operator) Backlog(ctx context.Context, f starling.HostBacklogFilter) ([]starling.HostBacklog, error) {
	switch f.Only {
	case "", "failing", "unavailable", "paused", "suspended":
	default:
		return nil, starling.Errorf(starling.EINVALID, "filter %q is not one of failing, unavailable, paused, suspended", f.Only)
	}
	if f.Host != "" {
		h, err := CheckHost(f.Host)
		if err != nil {
			return nil, err
		}
		f.Host = h
	}
	list, err := o.Store.HostBacklog(ctx, f)
	if err != nil {
		return nil, err
	}
	if f.Host != "" && len(list) == 0 {
		if err := o.known(ctx, f.Host); err != nil {
			return nil, err
		}
		list = append(list, starling.HostBacklog{Host: f.Host})
	}
	var inflight map[string]int
	if o.Deliverer != nil {
		inflight = o.Deliverer.InFlight()
	}
	for i := range list {
		h := &list[i]
		h.InFlight = inflight[h.Host]
		h.Breaker = "unknown"
		if o.Deliverer != nil {
			h.Breaker = o.Deliverer.BreakerState(h.Host)
		}
	}
	return list, nil
}

// Trace returns every destination of a post.
func (o *Operator) Trace(ctx context.Context, statusID int64) ([]starling.DeliveryTrace, error) {
	if statusID <= 0 {
		return nil, starling.Errorf(starling.EINVALID, "%d is not a status id", statusID)
	}
	list, err := o.Store.DeliveryTrace(ctx, statusID)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []starling.DeliveryTrace{}
	}
	return list, nil
}

// HostQueue returns a host's pending deliveries, oldest first, each with
// its attempts, last error and next attempt.
func (o *Operator) HostQueue(ctx context.Context, host string, limit int) ([]starling.DeliveryTrace, error) {
	return knownHostList(ctx, o, host, limit, o.Store.HostQueue)
}

// HostAttempts returns host's latest failed delivery attempts, newest
// first: its attempt history.
func (o *Operator) HostAttempts(ctx context.Context, host string, limit int) ([]starling.DeliveryAttempt, error) {
	return knownHostList(ctx, o, host, limit, o.Store.HostAttempts)
}

// knownHostList checks host and that deliveries to it are on record, then
// returns what list reads of it; an empty list, never nil (JSON []).
func knownHostList[T any](ctx context.Context, o *Operator, host string, limit int, list func(context.Context, string, int) ([]T, error)) ([]T, error) {
	h, err := CheckHost(host)
	if err != nil {
		return nil, err
	}
	if err := o.known(ctx, h); err != nil {
		return nil, err
	}
	out, err := list(ctx, h, limit)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

func (o *Operator) known(ctx context.Context, host string) error {
	ok, err := o.Store.KnownHost(ctx, host)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("host %s: %w", host, starling.Errorf(starling.ENOTFOUND, "no deliveries, failures or accounts known for host %s", host))
	}
	return nil
}

// HostAction runs one of pause, resume, retry, purge, clear, suspend,
// unsuspend on host as actor, and returns how many deliveries it moved.
// Suspending needs no history with the host (a domain may be suspended
// before it ever sends anything); the others refuse an unknown host.
func (o *Operator) HostAction(ctx context.Context, actor, action, host string) (int64, error) {
	h, err := CheckHost(host)
	if err != nil {
		return 0, err
	}
	if action != "suspend" && action != "unsuspend" {
		if err := o.known(ctx, h); err != nil {
			return 0, err
		}
	}
	subject := o.Topology.DeliverySubject(h)
	switch action {
	case "pause":
		return o.Store.PauseHost(ctx, actor, h, subject, true)
	case "resume":
		return o.Store.PauseHost(ctx, actor, h, subject, false)
	case "retry":
		return o.Store.RetryHost(ctx, actor, h, subject)
	case "purge":
		return o.Store.PurgeHost(ctx, actor, h, subject)
	case "clear":
		return 0, o.Store.ClearHostFailures(ctx, actor, h)
	case "suspend":
		return 0, o.Store.SuspendHost(ctx, actor, h, true)
	case "unsuspend":
		return 0, o.Store.SuspendHost(ctx, actor, h, false)
	}
	return 0, starling.Errorf(starling.EINVALID, "%q is not an action: pause, resume, retry, purge, clear, suspend or unsuspend", action)
}

// DeadLetters lists dead letters not yet replayed.
func (o *Operator) DeadLetters(ctx context.Context, f starling.DeadLetterFilter) ([]starling.DeadLetter, error) {
	if f.Host != "" {
		h, err := CheckHost(f.Host)
		if err != nil {
			return nil, err
		}
		f.Host = h
	}
	return o.Store.DeadLetters(ctx, f)
}

// Replay queues dead letters again (all, by host, by post or by id) and
// audits it.
func (o *Operator) Replay(ctx context.Context, actor string, f starling.DeadLetterFilter) (int, error) {
	if f.Host != "" {
		h, err := CheckHost(f.Host)
		if err != nil {
			return 0, err
		}
		f.Host = h
	}
	if f.Limit <= 0 {
		f.Limit = 100_000
	}
	n, err := ReplayDeadLetters(ctx, o.Store, o.Topology, f)
	if err != nil {
		return 0, err
	}
	var target []string
	if f.Host != "" {
		target = append(target, "host "+f.Host)
	}
	if f.StatusID != 0 {
		target = append(target, "status "+strconv.FormatInt(f.StatusID, 10))
	}
	for _, id := range f.IDs {
		target = append(target, "dead letter "+strconv.FormatInt(id, 10))
	}
	if len(target) == 0 {
		target = append(target, "all")
	}
	if err := o.Store.RecordAdminAction(ctx, starling.AdminAction{Actor: actor, Action: "deadletters.replay",
		Target: strings.Join(target, ", "), Affected: int64(n)}); err != nil {
		return n, err
	}
	return n, nil
}

// Actions lists the audited actions, newest first.
func (o *Operator) Actions(ctx context.Context, limit int) ([]starling.AdminAction, error) {
	return o.Store.AdminActions(ctx, limit)
}

// HistoryPoints is how many steps History divides its hours into.
const HistoryPoints = 60

// History returns the last hours (1 to 48) of the delivery history in
// HistoryPoints steps of at least a minute, aligned to the minute: the
// chart of the admin page and the admin API.
func (o *Operator) History(ctx context.Context, hours int) ([]starling.DeliveryRate, error) {
	if hours < 1 || hours > int(starling.BacklogSampleKeep/time.Hour) {
		return nil, starling.Errorf(starling.EINVALID, "hours must be 1 to %d", int(starling.BacklogSampleKeep/time.Hour))
	}
	now := time.Now()
	o.historyMu.Lock()
	defer o.historyMu.Unlock() // one query at a time: concurrent page loads wait for its answer
	if c, ok := o.history[hours]; ok && now.Sub(c.at) < historyTTL {
		return c.rates, nil
	}
	step := max(time.Duration(hours)*time.Hour/HistoryPoints, time.Minute).Truncate(time.Minute)
	since := now.Truncate(step).Add(-time.Duration(hours) * time.Hour).Add(step)
	rates, err := o.Store.DeliveryHistory(ctx, since, step)
	if err != nil {
		return nil, err
	}
	if o.history == nil {
		o.history = map[int]cachedHistory{}
	}
	o.history[hours] = cachedHistory{at: now, rates: rates}
	return rates, nil
}

// historyTTL is how long a history answer is reused: the query reads every
// delivery of the last hours (about a second at a million), and the page
// refreshes every 15 seconds in every admin's browser.
const historyTTL = 30 * time.Second

type cachedHistory struct {
	at    time.Time
	rates []starling.DeliveryRate
}

// BacklogSampler counts the pending deliveries once a minute into the
// store (backlog_samples), for the chart of the backlog over the last
// hours. Every process with the fanout role runs one; the first sample of
// a minute wins, so more processes cost one cheap check each.
type BacklogSampler struct {
	Store  SampleStore
	Logger *slog.Logger
}

// SampleStore is what BacklogSampler needs of the store.
type SampleStore interface {
	SampleBacklog(ctx context.Context, at time.Time) error
}

// Run samples until ctx ends.
func (b *BacklogSampler) Run(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if err := b.Store.SampleBacklog(ctx, time.Now().Truncate(time.Minute)); err != nil && ctx.Err() == nil {
			b.Logger.Warn("could not sample the delivery backlog", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
