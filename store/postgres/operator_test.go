package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

// TestOperator: queued deliveries and their outcomes make the host
// table and the trace; pause parks and resume releases; purge makes dead
// letters; every action is audited.
func TestOperator(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	act := &starling.Activity{ID: 7, URI: "https://local.test/a/7", Type: "Create", ActorID: alice.ID, ObjectURI: "https://local.test/s/7", Payload: []byte("{}")}
	if _, err := db.InsertActivity(ctx, act); err != nil {
		t.Fatal(err)
	}
	inboxes := []string{"https://a.test/inbox", "https://b.test/inbox", "https://b.test/users/x/inbox"}
	hosts := []string{"a.test", "b.test", "b.test"}
	if err := db.RecordQueuedDeliveries(ctx, act.ID, inboxes, hosts); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordQueuedDeliveries(ctx, act.ID, inboxes, hosts); err != nil {
		t.Fatalf("a replayed fan-out: %v", err)
	}
	if err := db.RecordDeliveryOutcome(ctx, "a.test", starling.DeliveryOutcome{ActivityID: 7, Inbox: inboxes[0],
		State: starling.DeliveryDelivered, Attempts: 1, Latency: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordHostFailure(ctx, "b.test", "status 503", 7); err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Minute)
	if err := db.RecordDeliveryOutcome(ctx, "b.test", starling.DeliveryOutcome{ActivityID: 7, Inbox: inboxes[1],
		State: starling.DeliveryPending, Attempts: 2, LastError: "status 503", LastStatus: 503, NextAttempt: next}); err != nil {
		t.Fatal(err)
	}
	list, err := db.HostBacklog(ctx, starling.HostBacklogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Host != "b.test" || list[0].Pending != 2 || list[0].Attempts != 2 ||
		list[0].LastStatus != 503 || list[0].LastError != "status 503" || list[0].NextAttempt.IsZero() {
		t.Fatalf("backlog %+v", list)
	}
	if a := list[1]; a.Host != "a.test" || a.Pending != 0 || a.Delivered1h != 1 || a.Delivered24h != 1 || a.MedianLatencyMS != 30 {
		t.Errorf("a.test %+v", a)
	}
	if l, _ := db.HostBacklog(ctx, starling.HostBacklogFilter{Only: "failing"}); len(l) != 1 || l[0].Host != "b.test" {
		t.Errorf("failing only: %+v", l)
	}

	// Pause: a parked event; resume brings it due.
	subject := "starling.delivery.b_test"
	payload, _ := json.Marshal(map[string]any{"activity_id": 7, "inbox": inboxes[1]})
	if err := db.AppendEvents(ctx, starling.Event{MsgID: "p1", Subject: subject, Payload: payload,
		DueAt: time.Now().Add(starling.ParkedAfter)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PauseHost(ctx, "@admin", "b.test", subject, true); err != nil {
		t.Fatal(err)
	}
	c, err := db.HostControls(ctx)
	if err != nil || len(c) != 1 || !c[0].Paused {
		t.Fatalf("controls %+v, %v", c, err)
	}
	n, err := db.PauseHost(ctx, "@admin", "b.test", subject, false)
	if err != nil || n != 1 {
		t.Fatalf("resume released %d, %v; want 1", n, err)
	}
	if due, _, _ := db.EventBacklog(ctx); due != 1 {
		t.Errorf("%d due events after resume, want 1", due)
	}

	// Purge: two pending deliveries become dead letters, the event goes.
	n, err = db.PurgeHost(ctx, "@admin", "b.test", subject)
	if err != nil || n != 2 {
		t.Fatalf("purged %d, %v; want 2", n, err)
	}
	dead, err := db.DeadLetters(ctx, starling.DeadLetterFilter{Host: "b.test"})
	if err != nil || len(dead) != 2 {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
	if due, _, _ := db.EventBacklog(ctx); due != 0 {
		t.Errorf("%d due events after purge, want 0", due)
	}
	// By post: the dead letters of the status whose Create is activity 7.
	if _, err := db.Pool().Exec(ctx, `INSERT INTO statuses (id, uri, account_id, local, visibility, created_at)
		VALUES (70, 'https://local.test/s/7', $1, true, 'public', now())`, alice.ID); err != nil {
		t.Fatal(err)
	}
	if byPost, err := db.DeadLetters(ctx, starling.DeadLetterFilter{StatusID: 70}); err != nil || len(byPost) != 2 {
		t.Errorf("dead letters of status 70: %d, %v; want 2", len(byPost), err)
	}
	if other, err := db.DeadLetters(ctx, starling.DeadLetterFilter{StatusID: 71}); err != nil || len(other) != 0 {
		t.Errorf("dead letters of status 71: %d, %v; want none", len(other), err)
	}
	trace, err := db.DeliveryTrace(ctx, 70)
	if err != nil || len(trace) != 3 || trace[0].State != starling.DeliveryDelivered || trace[1].State != starling.DeliveryDead {
		t.Errorf("trace %+v, %v", trace, err)
	}
	if _, err := db.DeliveryTrace(ctx, 71); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("trace of no status: %v, want ErrNotFound", err)
	}
	if st, _ := db.DeliveryState(ctx, 7, inboxes[1]); st != starling.DeliveryDead {
		t.Errorf("state %q after purge", st)
	}
	actions, err := db.AdminActions(ctx, 10)
	if err != nil || len(actions) != 3 || actions[0].Action != "host.purge" || actions[0].Affected != 2 || actions[0].Actor != "@admin" {
		t.Errorf("actions %+v, %v", actions, err)
	}
	if ok, err := db.KnownHost(ctx, "b.test"); err != nil || !ok {
		t.Errorf("known b.test: %v %v", ok, err)
	}
	if n, err := db.TrimDeliveries(ctx, time.Now().Add(time.Hour), 100); err != nil || n != 3 {
		t.Errorf("trimmed %d, %v; want the delivered one and the two dead", n, err)
	}
	if ok, _ := db.KnownHost(ctx, "nowhere.test"); ok {
		t.Error("nowhere.test known")
	}
}
