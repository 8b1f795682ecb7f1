package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/starling-social/starling"
)

// Operator is what the operator's view (issue 13) keeps in the store:
// deliveries per (activity, inbox), the host table, the trace of a post,
// the admins' decisions about hosts and their audit, the admin role.
type Operator interface {
	RecordQueuedDeliveries(ctx context.Context, activityID int64, inboxes, hosts []string) error
	RecordDeliveryOutcome(ctx context.Context, host string, o starling.DeliveryOutcome) error
	RecordDeliveryOutcomes(ctx context.Context, outcomes []starling.HostOutcome) error
	DeliveryState(ctx context.Context, activityID int64, inbox string) (string, error)
	HostBacklog(ctx context.Context, f starling.HostBacklogFilter) ([]starling.HostBacklog, error)
	DeliveryTrace(ctx context.Context, statusID int64) ([]starling.DeliveryTrace, error)
	HostQueue(ctx context.Context, host string, limit int) ([]starling.DeliveryTrace, error)
	HostAttempts(ctx context.Context, host string, limit int) ([]starling.DeliveryAttempt, error)
	HostControls(ctx context.Context) ([]starling.HostControl, error)
	PauseHost(ctx context.Context, actor, host, subject string, paused bool) (int64, error)
	SuspendHost(ctx context.Context, actor, host string, suspended bool) error
	RetryHost(ctx context.Context, actor, host, subject string) (int64, error)
	ClearHostFailures(ctx context.Context, actor, host string) error
	PurgeHost(ctx context.Context, actor, host, subject string) (int64, error)
	RecordAdminAction(ctx context.Context, a starling.AdminAction) error
	AdminActions(ctx context.Context, limit int) ([]starling.AdminAction, error)
	KnownHost(ctx context.Context, host string) (bool, error)
	TrimDeliveries(ctx context.Context, before time.Time, limit int) (int64, error)
	SetAdmin(ctx context.Context, accountID int64, admin bool) error
	IsAdmin(ctx context.Context, accountID int64) (bool, error)
	EventBacklog(ctx context.Context) (int64, time.Duration, error)
	SampleBacklog(ctx context.Context, at time.Time) error
	DeliveryHistory(ctx context.Context, since time.Time, step time.Duration) ([]starling.DeliveryRate, error)
}

// testDeliveryHistory: the chart's figures: deliveries queued and
// delivered per step, the backlog sampled once a minute (the first
// sample of a minute wins; old samples go).
func testDeliveryHistory(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	now := time.Now()
	_, act := mustLocalPost(t, s, alice, "h")
	inboxes := []string{"https://a.test/inbox", "https://b.test/inbox", "https://c.test/inbox"}
	if err := s.RecordQueuedDeliveries(ctx, act.ID, inboxes, []string{"a.test", "b.test", "c.test"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDeliveryOutcome(ctx, "a.test", starling.DeliveryOutcome{ActivityID: act.ID, Inbox: inboxes[0],
		State: starling.DeliveryDelivered, Attempts: 1, Latency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	minute := now.Truncate(time.Minute)
	old := minute.Add(-starling.BacklogSampleKeep - time.Hour)
	if err := s.SampleBacklog(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.SampleBacklog(ctx, minute); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDeliveryOutcome(ctx, "b.test", starling.DeliveryOutcome{ActivityID: act.ID, Inbox: inboxes[1],
		State: starling.DeliveryDelivered, Attempts: 1, Latency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := s.SampleBacklog(ctx, minute); err != nil { // a second process, the same minute
		t.Fatal(err)
	}
	since := minute.Add(-9 * time.Minute)
	h, err := s.DeliveryHistory(ctx, since, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 10 || !h[0].At.Equal(since) {
		t.Fatalf("history: %d buckets from %v, want 10 from %v", len(h), h[0].At, since)
	}
	var queued, delivered int64
	for i, r := range h {
		queued, delivered = queued+r.Queued, delivered+r.Delivered
		if i < 9 && r.Pending != -1 {
			t.Errorf("bucket %d has a sample %d, want none", i, r.Pending)
		}
	}
	if queued != 3 || delivered != 2 {
		t.Errorf("queued %d, delivered %d; want 3 and 2", queued, delivered)
	}
	if h[9].Pending != 2 {
		t.Errorf("the minute's sample: %d pending, want 2 (the first sample of a minute wins)", h[9].Pending)
	}
	if h, err := s.DeliveryHistory(ctx, old.Add(-time.Minute), time.Hour); err != nil || h[0].Pending != -1 {
		t.Errorf("a sample older than %s is kept: %+v, %v", starling.BacklogSampleKeep, h[0], err)
	}
}

// testOperator: queued deliveries and their outcomes make the host table
// and the trace; pause parks and resume releases; retry brings retries
// forward; purge makes dead letters and a replay makes them pending
// again; every action is audited.
func testOperator(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	st, act := mustLocalPost(t, s, alice, "7")
	inboxes := []string{"https://a.test/inbox", "https://b.test/inbox", "https://b.test/users/x/inbox", "https://c.test/inbox"}
	hosts := []string{"a.test", "b.test", "b.test", "c.test"}
	if err := s.RecordQueuedDeliveries(ctx, act.ID, inboxes, hosts); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordQueuedDeliveries(ctx, act.ID, inboxes, hosts); err != nil {
		t.Fatalf("a replayed fan-out: %v", err)
	}
	// a.test: two deliveries (one of another activity), 30 and 50 ms: the
	// median of an even count is the mean of the middle two.
	other := &starling.Activity{ID: act.ID + 1, URI: st.URI + "/other", Type: "Update", ActorID: alice.ID,
		ObjectURI: st.URI, Payload: []byte(`{}`)}
	if _, err := s.InsertActivity(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordQueuedDeliveries(ctx, other.ID, inboxes[:1], hosts[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDeliveryOutcome(ctx, "a.test", starling.DeliveryOutcome{ActivityID: act.ID, Inbox: inboxes[0],
		State: starling.DeliveryDelivered, Attempts: 1, Latency: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordHostFailure(ctx, "b.test", "status 503", 7); err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Minute)
	if err := s.RecordDeliveryOutcomes(ctx, []starling.HostOutcome{
		{Host: "a.test", DeliveryOutcome: starling.DeliveryOutcome{ActivityID: other.ID, Inbox: inboxes[0],
			State: starling.DeliveryPending, Attempts: 1, LastError: "timeout", NextAttempt: next}},
		{Host: "b.test", DeliveryOutcome: starling.DeliveryOutcome{ActivityID: act.ID, Inbox: inboxes[1],
			State: starling.DeliveryPending, Attempts: 2, LastError: "status 503", LastStatus: 503, NextAttempt: next}},
		// The last outcome of a delivery wins.
		{Host: "a.test", DeliveryOutcome: starling.DeliveryOutcome{ActivityID: other.ID, Inbox: inboxes[0],
			State: starling.DeliveryDelivered, Attempts: 2, Latency: 50 * time.Millisecond}},
		// An activity that is gone gets no row.
		{Host: "a.test", DeliveryOutcome: starling.DeliveryOutcome{ActivityID: -1, Inbox: inboxes[0],
			State: starling.DeliveryDelivered, Attempts: 1}},
	}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.DeliveryState(ctx, -1, inboxes[0]); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("state of a delivery of no activity: %q, %v; want ErrNotFound", st, err)
	}
	list, err := s.HostBacklog(ctx, starling.HostBacklogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Host != "b.test" || list[0].Pending != 2 || list[0].Attempts != 2 ||
		list[0].LastStatus != 503 || list[0].LastError != "status 503" || list[0].NextAttempt.IsZero() ||
		list[0].OldestPending.IsZero() || list[0].FailingSince.IsZero() {
		t.Fatalf("backlog %+v", list)
	}
	if c := list[1]; c.Host != "c.test" || c.Pending != 1 || !c.NextAttempt.IsZero() {
		t.Errorf("c.test %+v", c)
	}
	if a := list[2]; a.Host != "a.test" || a.Pending != 0 || a.Delivered1h != 2 || a.Delivered24h != 2 || a.MedianLatencyMS != 40 ||
		!a.OldestPending.IsZero() {
		t.Errorf("a.test %+v", a)
	}
	if l, _ := s.HostBacklog(ctx, starling.HostBacklogFilter{Only: "failing"}); len(l) != 1 || l[0].Host != "b.test" {
		t.Errorf("failing only: %+v", l)
	}
	if l, _ := s.HostBacklog(ctx, starling.HostBacklogFilter{Host: "c.test"}); len(l) != 1 || l[0].Host != "c.test" {
		t.Errorf("one host: %+v", l)
	}
	if l, _ := s.HostBacklog(ctx, starling.HostBacklogFilter{Limit: 1, Offset: 1}); len(l) != 1 || l[0].Host != "c.test" {
		t.Errorf("second page of one: %+v", l)
	}
	if q, err := s.HostQueue(ctx, "b.test", 10); err != nil || len(q) != 2 || q[0].ActivityType != "Create" || q[0].QueuedAt.IsZero() {
		t.Errorf("queue of b.test: %+v, %v", q, err)
	}

	// The attempt history: every failed attempt, the successes not.
	if h, err := s.HostAttempts(ctx, "b.test", 10); err != nil || len(h) != 1 || h[0].Status != 503 ||
		h[0].Error != "status 503" || h[0].Attempt != 2 || h[0].Inbox != inboxes[1] || h[0].At.IsZero() {
		t.Errorf("attempts of b.test: %+v, %v", h, err)
	}
	if h, err := s.HostAttempts(ctx, "a.test", 10); err != nil || len(h) != 1 || h[0].Error != "timeout" || h[0].ActivityID != other.ID {
		t.Errorf("attempts of a.test: %+v, %v; want its one timeout", h, err)
	}

	// Pause: a parked event; resume brings it due.
	subject := "starling.delivery.b_test"
	if err := s.AppendEvents(ctx, starling.Event{MsgID: "p1", Subject: subject, Payload: []byte(`{}`),
		DueAt: time.Now().Add(starling.ParkedAfter)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PauseHost(ctx, "@admin", "b.test", subject, true); err != nil {
		t.Fatal(err)
	}
	if c, err := s.HostControls(ctx); err != nil || len(c) != 1 || !c[0].Paused || c[0].Suspended {
		t.Fatalf("controls %+v, %v", c, err)
	}
	if l, _ := s.HostBacklog(ctx, starling.HostBacklogFilter{Only: "paused"}); len(l) != 1 || !l[0].Paused {
		t.Errorf("paused only: %+v", l)
	}
	n, err := s.PauseHost(ctx, "@admin", "b.test", subject, false)
	if err != nil || n != 1 {
		t.Fatalf("resume released %d, %v; want 1", n, err)
	}
	if due, _, _ := s.EventBacklog(ctx); due != 1 {
		t.Errorf("%d due events after resume, want 1", due)
	}

	// Retry now: a retry due in an hour is due now; parked ones are not.
	if err := s.AppendEvents(ctx, starling.Event{MsgID: "r1", Subject: subject, Payload: []byte(`{}`), DueAt: time.Now().Add(time.Hour)},
		starling.Event{MsgID: "p2", Subject: subject, Payload: []byte(`{}`), DueAt: time.Now().Add(starling.ParkedAfter)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RetryHost(ctx, "@admin", "b.test", subject); err != nil || n != 1 {
		t.Errorf("retry brought %d forward, %v; want 1", n, err)
	}
	if c, _ := s.HostControls(ctx); len(c) != 1 || c[0].RetryAt.IsZero() || c[0].Paused {
		t.Errorf("controls after retry: %+v", c)
	}
	if due, _, _ := s.EventBacklog(ctx); due != 2 {
		t.Errorf("%d due events after retry, want 2", due)
	}

	// Purge: two pending deliveries become dead letters, the events go.
	n, err = s.PurgeHost(ctx, "@admin", "b.test", subject)
	if err != nil || n != 2 {
		t.Fatalf("purged %d, %v; want 2", n, err)
	}
	dead, err := s.DeadLetters(ctx, starling.DeadLetterFilter{Host: "b.test"})
	if err != nil || len(dead) != 2 || dead[0].ActorID != alice.ID || dead[0].FirstError != "purged by @admin" {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
	if due, _, _ := s.EventBacklog(ctx); due != 0 {
		t.Errorf("%d due events after purge, want 0", due)
	}
	if byPost, err := s.DeadLetters(ctx, starling.DeadLetterFilter{StatusID: st.ID}); err != nil || len(byPost) != 2 {
		t.Errorf("dead letters of the status: %d, %v; want 2", len(byPost), err)
	}
	if none, err := s.DeadLetters(ctx, starling.DeadLetterFilter{StatusID: st.ID + 1}); err != nil || len(none) != 0 {
		t.Errorf("dead letters of another status: %d, %v; want none", len(none), err)
	}
	trace, err := s.DeliveryTrace(ctx, st.ID)
	if err != nil || len(trace) != 5 {
		t.Fatalf("trace %+v, %v", trace, err)
	}
	var states []string
	for _, d := range trace {
		states = append(states, d.Host+" "+d.State)
	}
	// Activity by activity (the Create first), inbox by inbox.
	if want := []string{"a.test delivered", "b.test dead", "b.test dead", "c.test pending", "a.test delivered"}; !slices.Equal(states, want) {
		t.Errorf("trace %v, want %v", states, want)
	}
	if trace[0].DeliveredAt.IsZero() || trace[0].ActivityType != "Create" || trace[4].ActivityType != "Update" {
		t.Errorf("trace %+v", trace)
	}
	if _, err := s.DeliveryTrace(ctx, st.ID+1); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("trace of no status: %v, want ErrNotFound", err)
	}

	// A replay makes the deliveries pending again.
	replayed, err := s.ReplayDeadLetters(ctx, starling.DeadLetterFilter{IDs: []int64{dead[0].ID}},
		func(d starling.DeadLetter) (starling.Event, error) {
			return starling.Event{MsgID: "replay", Subject: subject, Payload: []byte(`{}`)}, nil
		})
	if err != nil || replayed != 1 {
		t.Fatalf("replayed %d, %v", replayed, err)
	}
	if st, _ := s.DeliveryState(ctx, act.ID, dead[0].Inbox); st != starling.DeliveryPending {
		t.Errorf("state %q after a replay, want pending", st)
	}
	if st, _ := s.DeliveryState(ctx, act.ID, dead[1].Inbox); st != starling.DeliveryDead {
		t.Errorf("state %q of the one not replayed, want dead", st)
	}

	// Suspend, clear, an action done elsewhere: all audited, newest first.
	if err := s.SuspendHost(ctx, "@admin", "evil.test", true); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearHostFailures(ctx, "@admin", "b.test"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.HostBacklog(ctx, starling.HostBacklogFilter{Only: "failing"}); len(l) != 0 {
		t.Errorf("failing after clear: %+v", l)
	}
	if l, _ := s.HostBacklog(ctx, starling.HostBacklogFilter{Only: "suspended"}); len(l) != 1 || l[0].Host != "evil.test" || !l[0].Suspended {
		t.Errorf("suspended only: %+v", l)
	}
	if err := s.RecordAdminAction(ctx, starling.AdminAction{Actor: "@admin", Action: "deadletters.replay", Target: "b.test", Affected: 1}); err != nil {
		t.Fatal(err)
	}
	actions, err := s.AdminActions(ctx, 10)
	if err != nil || len(actions) != 7 {
		t.Fatalf("actions %+v, %v", actions, err)
	}
	var names []string
	for _, a := range actions {
		names = append(names, a.Action)
	}
	if want := []string{"deadletters.replay", "host.clear", "host.suspend", "host.purge", "host.retry", "host.resume", "host.pause"}; !slices.Equal(names, want) {
		t.Errorf("actions %v, want %v", names, want)
	}
	if p := actions[3]; p.Affected != 2 || p.Actor != "@admin" || p.Target != "b.test" || p.At.IsZero() || p.ID == 0 {
		t.Errorf("purge audited as %+v", p)
	}
	for _, h := range []string{"b.test", "c.test", "evil.test"} {
		if ok, err := s.KnownHost(ctx, h); err != nil || !ok {
			t.Errorf("known %s: %v %v", h, ok, err)
		}
	}
	if ok, _ := s.KnownHost(ctx, "nowhere.test"); ok {
		t.Error("nowhere.test known")
	}
	if n, err := s.TrimDeliveries(ctx, time.Now().Add(time.Hour), 100); err != nil || n != 3 {
		t.Errorf("trimmed %d, %v; want the two delivered and the dead one", n, err)
	}
	if n, err := s.TrimDeliveries(ctx, time.Now().Add(time.Hour), 100); err != nil || n != 0 {
		t.Errorf("trimmed %d again, %v; pending rows stay", n, err)
	}
	if h, err := s.HostAttempts(ctx, "b.test", 10); err != nil || len(h) != 0 {
		t.Errorf("attempts of b.test after the trim: %+v, %v; want them gone with the deliveries", h, err)
	}

	// The admin role: off by default, on and off again; none for an
	// account without a user.
	if ok, err := s.IsAdmin(ctx, alice.ID); err != nil || ok {
		t.Errorf("admin by default: %v, %v", ok, err)
	}
	if err := s.SetAdmin(ctx, alice.ID, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.IsAdmin(ctx, alice.ID); err != nil || !ok {
		t.Errorf("admin after SetAdmin: %v, %v", ok, err)
	}
	bob := MustAccount(t, s, "bob", "b.test")
	if err := s.SetAdmin(ctx, bob.ID, true); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("admin role of a remote account: %v, want ErrNotFound", err)
	}
	if ok, err := s.IsAdmin(ctx, bob.ID); err != nil || ok {
		t.Errorf("remote account admin: %v, %v", ok, err)
	}
}
