// Package fanout takes local activities off the outbox stream, works out
// which remote inboxes must receive them (collapsing followers onto shared
// inboxes), queues one delivery per inbox on that host's subject, and runs
// the workers that sign and POST each delivery.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/queue"
)

// AudienceStore is what fanout needs to find an activity's audience.
type AudienceStore interface {
	AccountByID(ctx context.Context, id int64) (*starling.Account, error)
	ActivityByID(ctx context.Context, id int64) (*starling.Activity, error)
	FollowerInboxes(ctx context.Context, accountID int64, asOf time.Time) ([]string, error)
	FailingHosts(ctx context.Context) ([]starling.HostHealth, error)
	SetActivityAudience(ctx context.Context, activityID int64, inboxes []string) error
	AudienceOf(ctx context.Context, typ, objectURI string) ([]string, error)
}

// QueueRecorder records the deliveries of an activity as queued.
type QueueRecorder interface {
	RecordQueuedDeliveries(ctx context.Context, activityID int64, inboxes, hosts []string) error
}

// DeliveryTrimmer deletes old delivery rows, a batch at a time.
type DeliveryTrimmer interface {
	TrimDeliveries(ctx context.Context, before time.Time, limit int) (int64, error)
}

// Publisher queues messages on a stream; *queue.Conn is one. PublishBatch
// stores every message once (by its MsgID) or returns an error, which
// wraps queue.ErrPublishTimeout when JetStream did not answer in time.
type Publisher interface {
	PublishBatch(ctx context.Context, msgs []queue.Outgoing) error
}

// Fanout turns outbox events into deliveries.
type Fanout struct {
	Store     AudienceStore
	Publisher Publisher
	Topology  queue.Topology
	Logger    *slog.Logger
	Metrics   *DeliveryMetrics

	// Refresh is how often Run rereads the unavailable hosts; default 30s.
	Refresh time.Duration
	// Records, when set, records every delivery queued (one statement per
	// fan-out), for the operator's backlog and per-post trace.
	Records QueueRecorder
	// Controls, when set, leaves suspended hosts out of every fan-out.
	Controls *Controls
	// Trim, when set, is how Run forgets delivery rows older than Keep
	// (default 14 days): the per-post trace reaches back that far.
	Trim DeliveryTrimmer
	Keep time.Duration

	unavailable atomic.Pointer[map[string]bool] // read by every fan-out, replaced by Run
}

// Load reads the hosts marked unavailable; Open and Run call it.
func (f *Fanout) Load(ctx context.Context) error {
	hosts, err := f.Store.FailingHosts(ctx)
	if err != nil {
		return fmt.Errorf("load unavailable hosts: %w", err)
	}
	set := map[string]bool{}
	for _, h := range hosts {
		if h.Unavailable {
			set[h.Host] = true
		}
	}
	f.unavailable.Store(&set)
	return nil
}

// Run keeps the set of unavailable hosts current until ctx ends: a
// reconciliation loop over delivery_hosts, so no fan-out waits on the
// query. A failed read keeps the last set and is logged.
func (f *Fanout) Run(ctx context.Context) error {
	every := f.Refresh
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := f.Load(ctx); err != nil && ctx.Err() == nil {
				f.Logger.Warn("keeping the last set of unavailable hosts", "error", err)
			}
			f.trim(ctx)
		}
	}
}

// trim deletes one batch of old delivery rows per tick: bounded work,
// whichever process does it (a row deleted twice is deleted once).
func (f *Fanout) trim(ctx context.Context) {
	if f.Trim == nil {
		return
	}
	keep := f.Keep
	if keep <= 0 {
		keep = 14 * 24 * time.Hour
	}
	if _, err := f.Trim.TrimDeliveries(ctx, time.Now().Add(-keep), 10_000); err != nil && ctx.Err() == nil {
		f.Logger.Warn("could not trim old delivery rows", "error", err)
	}
}

// HandleOutbox is the queue.Handler of the outbox stream. It is idempotent:
// each delivery's message id is derived from the activity and the inbox,
// so a replayed event queues nothing new within JetStream's duplicate
// window, and a later replay only repeats deliveries, which receiving
// inboxes drop by activity id.
func (f *Fanout) HandleOutbox(ctx context.Context, msg queue.Message) error {
	var ev queue.OutboxEvent
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		return queue.Permanent(fmt.Errorf("decode outbox event: %w", err))
	}
	act, err := f.Store.ActivityByID(ctx, ev.ActivityID)
	if errors.Is(err, starling.ErrNotFound) {
		return queue.Permanent(fmt.Errorf("fan out activity %d: %w", ev.ActivityID, err))
	}
	if err != nil {
		return fmt.Errorf("fan out activity %d: %w", ev.ActivityID, err)
	}
	inboxes, err := f.audience(ctx, ev, act)
	if err != nil {
		return err
	}
	inboxes, skipped := f.skipUnavailable(inboxes)
	if skipped > 0 {
		f.Metrics.skippedUnavailable(skipped)
		f.Logger.Debug("skipped unavailable hosts", "activity_id", ev.ActivityID, "inboxes", skipped)
	}
	if act.Type == "Create" {
		// Remember who was sent it, so its Delete (and its edits) reach the
		// same servers. An empty audience is recorded too: the post is done.
		if err := f.Store.SetActivityAudience(ctx, ev.ActivityID, inboxes); err != nil {
			return err
		}
	}
	return f.enqueue(ctx, ev, inboxes)
}

// skipUnavailable drops inboxes on hosts marked unavailable, as of the
// set Run last read (none before Load).
func (f *Fanout) skipUnavailable(inboxes []string) ([]string, int) {
	var unavailable map[string]bool
	if p := f.unavailable.Load(); p != nil {
		unavailable = *p
	}
	if len(unavailable) == 0 {
		return inboxes, 0
	}
	kept := inboxes[:0]
	for _, inbox := range inboxes {
		if u, err := url.Parse(inbox); err == nil && unavailable[u.Host] {
			continue
		}
		kept = append(kept, inbox)
	}
	return kept, len(inboxes) - len(kept)
}

// audience returns the distinct inboxes of an event's recipients.
func (f *Fanout) audience(ctx context.Context, ev queue.OutboxEvent, act *starling.Activity) ([]string, error) {
	seen := map[string]bool{}
	var inboxes []string
	add := func(inbox string) {
		if inbox != "" && !seen[inbox] {
			seen[inbox] = true
			inboxes = append(inboxes, inbox)
		}
	}
	if ev.Followers {
		list, err := f.followersAudience(ctx, ev, act)
		if err != nil {
			return nil, fmt.Errorf("audience of activity %d: %w", ev.ActivityID, err)
		}
		for _, inbox := range list {
			add(inbox)
		}
	}
	for _, id := range ev.AccountIDs {
		a, err := f.Store.AccountByID(ctx, id)
		if errors.Is(err, starling.ErrNotFound) {
			continue // gone since: nobody to tell
		}
		if err != nil {
			return nil, fmt.Errorf("audience of activity %d: %w", ev.ActivityID, err)
		}
		if !a.Local() {
			add(a.DeliveryInbox())
		}
	}
	return inboxes, nil
}

// followersAudience is the actor's followers' inboxes; for a Delete or an
// Update, the inboxes its object's Create was sent to, which is who holds
// a copy.
// Followers are those the actor had when the activity was made: a post
// waiting in the queue must not reach someone who followed afterwards.
func (f *Fanout) followersAudience(ctx context.Context, ev queue.OutboxEvent, act *starling.Activity) ([]string, error) {
	if (act.Type == "Delete" || act.Type == "Update") && act.ObjectURI != "" {
		list, err := f.Store.AudienceOf(ctx, "Create", act.ObjectURI)
		if err == nil {
			return list, nil
		}
		if !errors.Is(err, starling.ErrNotFound) {
			return nil, err
		}
	}
	return f.Store.FollowerInboxes(ctx, ev.ActorID, act.CreatedAt)
}

func (f *Fanout) enqueue(ctx context.Context, ev queue.OutboxEvent, inboxes []string) error {
	tr := queue.TraceFrom(ctx)
	msgs := make([]queue.Outgoing, 0, len(inboxes))
	var queued, hosts []string
	for _, inbox := range inboxes {
		u, err := url.Parse(inbox)
		if err != nil || u.Host == "" {
			f.Logger.Warn("skipping malformed inbox", "inbox", inbox, "activity_id", ev.ActivityID)
			continue
		}
		if f.Controls.Suspended(ctx, u.Host) {
			continue // an admin suspended the domain: nothing goes there
		}
		queued, hosts = append(queued, inbox), append(hosts, u.Host)
		data, err := json.Marshal(queue.DeliveryMessage{ActivityID: ev.ActivityID, ActorID: ev.ActorID, Inbox: inbox})
		if err != nil {
			return queue.Permanent(fmt.Errorf("encode delivery: %w", err))
		}
		msgs = append(msgs, queue.Outgoing{Subject: f.Topology.DeliverySubject(u.Host),
			MsgID: deliveryMsgID(ev.ActivityID, inbox), Data: data})
	}
	if f.Records != nil {
		// Before publishing, so that an outcome always finds its row; a
		// fan-out retried after a failed publish finds them there.
		if err := f.Records.RecordQueuedDeliveries(ctx, ev.ActivityID, queued, hosts); err != nil {
			return err
		}
	}
	if err := f.Publisher.PublishBatch(ctx, msgs); err != nil {
		if ctx.Err() != nil || errors.Is(err, queue.ErrPublishTimeout) {
			return fmt.Errorf("queue deliveries: %w", err)
		}
		// Usually the delivery stream is full: what was queued stays
		// queued (message ids make the next try skip it), and the rest
		// goes as soon as deliveries drain, not after a long backoff.
		return retrySoon(fmt.Errorf("queue deliveries: %w", err))
	}
	f.Metrics.queued(len(msgs))
	f.Logger.Debug("fanned out", "activity_id", ev.ActivityID, "inboxes", len(msgs), "correlation_id", tr.CorrelationID)
	return nil
}

// deliveryMsgID is the JetStream message id of the first delivery of an
// activity to an inbox; retries add a suffix.
func deliveryMsgID(activityID int64, inbox string) string {
	return "delivery-" + strconv.FormatInt(activityID, 10) + "-" + inbox
}

func retrySoon(err error) error {
	return queue.RetryAfter(time.Second+time.Duration(rand.Int64N(int64(time.Second))), err)
}
