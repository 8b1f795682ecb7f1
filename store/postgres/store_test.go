package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/store/postgres"
	"github.com/starling-social/starling/store/postgres/pgtest"
	"github.com/starling-social/starling/store/storetest"
)

// mustAccount makes a local account (domain "") or stores a remote one,
// as the conformance suite does.
func mustAccount(t *testing.T, db *postgres.DB, username, domain string) *starling.Account {
	t.Helper()
	return storetest.MustAccount(t, db, username, domain)
}

func accept(t *testing.T, db *postgres.DB, follower, followee *starling.Account) {
	t.Helper()
	id := starling.NewID(time.Now())
	f := &starling.Follow{ID: id, FollowerID: follower.ID, FolloweeID: followee.ID, URI: fmt.Sprintf("https://x.test/follows/%d", id), Accepted: true}
	if _, err := db.UpsertRemoteFollow(context.Background(), f); err != nil {
		t.Fatal(err)
	}
}

func TestAccounts(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	t.Run("ErrConflict on a taken username", func(t *testing.T) {
		dup := &starling.Account{Username: "ALICE", URI: "https://local.test/users/ALICE"}
		if err := db.CreateLocalAccount(ctx, dup, "other@local.test", "h"); !errors.Is(err, starling.ErrConflict) {
			t.Errorf("got %v, want ErrConflict", err)
		}
	})
	t.Run("a remote document cannot take over a local account", func(t *testing.T) {
		evil := &starling.Account{Username: "alice", Domain: "evil.test", URI: alice.URI, PublicKeyPEM: "x"}
		if _, err := db.UpsertRemoteAccount(ctx, evil); !errors.Is(err, starling.ErrConflict) {
			t.Errorf("got %v, want ErrConflict", err)
		}
	})
	t.Run("upsert keeps the id", func(t *testing.T) {
		bob := mustAccount(t, db, "bob", "b.test")
		bob.DisplayName = "Bob"
		again, err := db.UpsertRemoteAccount(ctx, bob)
		if err != nil || again.ID != bob.ID || again.DisplayName != "Bob" {
			t.Errorf("got %+v, %v", again, err)
		}
	})
	t.Run("profile fields are stored in order and replaced whole", func(t *testing.T) {
		carol := mustAccount(t, db, "carol", "c.test")
		if carol.Fields == nil || len(carol.Fields) != 0 {
			t.Fatalf("an account without fields has %#v, want an empty list", carol.Fields)
		}
		for _, want := range [][]starling.Field{
			{{Name: "Pronouns", Value: "she/her"}, {Name: "Site", Value: `<a href="https://c.test">c.test</a>`}},
			{{Name: "Only", Value: "one"}},
			{},
		} {
			carol.Fields = want
			if _, err := db.UpsertRemoteAccount(ctx, carol); err != nil {
				t.Fatal(err)
			}
			got, err := db.AccountByURI(ctx, carol.URI)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Fields, want) {
				t.Errorf("stored %#v, read back %#v", want, got.Fields)
			}
		}
	})
	t.Run("lookup by acct is case-insensitive", func(t *testing.T) {
		if a, err := db.AccountByAcct(ctx, "BOB", "B.TEST"); err != nil || a.Username != "bob" {
			t.Errorf("got %v, %v", a, err)
		}
		if _, err := db.AccountByAcct(ctx, "nobody", ""); !errors.Is(err, starling.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
}

func TestFollowerInboxesCollapse(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	for i := range 5 {
		accept(t, db, mustAccount(t, db, fmt.Sprintf("u%d", i), "b.test"), alice)
	}
	noShared := &starling.Account{Username: "solo", Domain: "c.test", URI: "https://c.test/solo", InboxURL: "https://c.test/solo/inbox", PublicKeyPEM: "x"}
	noShared, err := db.UpsertRemoteAccount(ctx, noShared)
	if err != nil {
		t.Fatal(err)
	}
	accept(t, db, noShared, alice)
	accept(t, db, mustAccount(t, db, "carol", ""), alice) // local: not an inbox
	pending := mustAccount(t, db, "pending", "d.test")
	if _, _, err := db.CreateFollow(ctx, &starling.Follow{ID: 1, FollowerID: pending.ID, FolloweeID: alice.ID, URI: "https://d.test/f"}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := db.FollowerInboxes(ctx, alice.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"https://b.test/inbox": true, "https://c.test/solo/inbox": true}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, inbox := range got {
		if !want[inbox] {
			t.Errorf("unexpected inbox %s", inbox)
		}
	}
}

func TestRemoteStatusIdempotence(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	bob := mustAccount(t, db, "bob", "b.test")
	status := func(uri string) *starling.Status {
		return &starling.Status{ID: starling.NewID(time.Now()), URI: uri, AccountID: bob.ID, Content: "hi",
			Visibility: starling.VisibilityPublic, CreatedAt: time.Now()}
	}
	tests := []struct {
		name  string
		steps func(uri string) []bool // what each step reports
		want  []bool
		live  bool
	}{
		{"create twice", func(uri string) []bool {
			a, _ := db.InsertRemoteStatus(ctx, status(uri))
			b, _ := db.InsertRemoteStatus(ctx, status(uri))
			return []bool{a, b}
		}, []bool{true, false}, true},
		{"create then delete twice", func(uri string) []bool {
			a, _ := db.InsertRemoteStatus(ctx, status(uri))
			b, _ := db.DeleteRemoteStatus(ctx, uri, bob.ID)
			c, _ := db.DeleteRemoteStatus(ctx, uri, bob.ID)
			return []bool{a, b, c}
		}, []bool{true, true, false}, false},
		{"delete before create leaves a tombstone", func(uri string) []bool {
			a, _ := db.DeleteRemoteStatus(ctx, uri, bob.ID)
			b, _ := db.InsertRemoteStatus(ctx, status(uri))
			return []bool{a, b}
		}, []bool{false, false}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri := fmt.Sprintf("https://b.test/statuses/%d", i)
			got := tt.steps(uri)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("steps reported %v, want %v", got, tt.want)
			}
			_, err := db.StatusByURI(ctx, uri)
			if live := err == nil; live != tt.live {
				t.Errorf("live = %v (%v), want %v", live, err, tt.live)
			}
		})
	}
}

func TestHomeFeed(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	bob := mustAccount(t, db, "bob", "b.test")
	accept(t, db, alice, bob)
	var ids []int64
	base := time.Now().Add(-time.Hour)
	for i := range 5 {
		created := base.Add(time.Duration(i) * time.Minute)
		st := &starling.Status{ID: starling.NewID(created), URI: fmt.Sprintf("https://b.test/s/%d", i), AccountID: bob.ID,
			Visibility: starling.VisibilityPublic, CreatedAt: created}
		if _, err := db.InsertRemoteStatus(ctx, st); err != nil {
			t.Fatal(err)
		}
		for range 2 { // a replayed event adds nothing
			if _, err := db.AddStatusToFeeds(ctx, st.ID); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, st.ID)
	}
	direct := &starling.Status{ID: starling.NewID(time.Now()), URI: "https://b.test/s/direct", AccountID: bob.ID,
		Visibility: starling.VisibilityDirect, CreatedAt: time.Now()}
	if _, err := db.InsertRemoteStatus(ctx, direct); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.AddStatusToFeeds(ctx, direct.ID); n != 0 {
		t.Errorf("a direct status not addressed to alice entered %d feeds", n)
	}
	page := func(p starling.Page) []int64 {
		t.Helper()
		sts, err := db.HomeFeedRefs(ctx, alice.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, s := range sts {
			out = append(out, s.ID)
		}
		return out
	}
	tests := []struct {
		name string
		p    starling.Page
		want []int64
	}{
		{"newest first", starling.Page{Limit: 3}, []int64{ids[4], ids[3], ids[2]}},
		{"max_id", starling.Page{MaxID: ids[2], Limit: 3}, []int64{ids[1], ids[0]}},
		{"since_id takes the newest", starling.Page{SinceID: ids[0], Limit: 2}, []int64{ids[4], ids[3]}},
		{"min_id takes the ones just above", starling.Page{MinID: ids[0], Limit: 2}, []int64{ids[2], ids[1]}},
		{"empty", starling.Page{MaxID: ids[0], Limit: 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := page(tt.p); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if n, err := db.RemoveStatusFromFeeds(ctx, ids[4]); err != nil || n != 1 {
		t.Errorf("remove: %d, %v", n, err)
	}
}

func TestHostHealth(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	const host = "down.test"
	// Failures on one day count once.
	for range 3 {
		if became, err := db.RecordHostFailure(ctx, host, "status 500", 3); err != nil || became {
			t.Fatalf("same-day failure: became %v, %v", became, err)
		}
	}
	// Move the last failure back a day, twice: the third distinct day marks it unavailable.
	back := func() {
		if _, err := db.Pool().Exec(ctx, `UPDATE delivery_hosts SET last_failure_on = last_failure_on - 1 WHERE host = $1`, host); err != nil {
			t.Fatal(err)
		}
	}
	back()
	if became, _ := db.RecordHostFailure(ctx, host, "status 500", 3); became {
		t.Fatal("unavailable after two days, want three")
	}
	back()
	became, err := db.RecordHostFailure(ctx, host, "timeout", 3)
	if err != nil || !became {
		t.Fatalf("third day: became %v, %v; want true", became, err)
	}
	hosts := must(db.FailingHosts(ctx))
	if len(hosts) != 1 || !hosts[0].Unavailable || hosts[0].FailureDays != 3 || hosts[0].LastError != "timeout" {
		t.Errorf("failing hosts: %+v", hosts)
	}
	// One success clears it.
	if err := db.RecordHostSuccess(ctx, host); err != nil {
		t.Fatal(err)
	}
	if hosts := must(db.FailingHosts(ctx)); len(hosts) != 0 {
		t.Errorf("after a success: %+v", hosts)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFollowerInboxesAsOf: an activity goes to the followers its author had
// when it was made; a follow made later is not in its audience.
func TestFollowerInboxesAsOf(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	accept(t, db, mustAccount(t, db, "early", "early.test"), alice)
	time.Sleep(10 * time.Millisecond)
	posted := time.Now()
	time.Sleep(10 * time.Millisecond)
	accept(t, db, mustAccount(t, db, "late", "late.test"), alice)
	tests := []struct {
		name string
		asOf time.Time
		want []string
	}{
		{"when posted", posted, []string{"https://early.test/inbox"}},
		{"before anyone followed", posted.Add(-time.Hour), nil},
		{"no limit", time.Time{}, []string{"https://early.test/inbox", "https://late.test/inbox"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.FollowerInboxes(ctx, alice.ID, tt.asOf)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(sorted(got)) != fmt.Sprint(tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEmptyAudience: an activity sent to nobody is recorded as sent to nobody.
func TestEmptyAudience(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	act := &starling.Activity{ID: 7, URI: "https://local.test/a/7", Type: "Create", ActorID: alice.ID, ObjectURI: "https://local.test/s/7", Payload: []byte("{}")}
	if _, err := db.InsertActivity(ctx, act); err != nil {
		t.Fatal(err)
	}
	if err := db.SetActivityAudience(ctx, act.ID, nil); err != nil {
		t.Fatalf("empty audience: %v", err)
	}
	got, err := db.AudienceOf(ctx, "Create", act.ObjectURI)
	if err != nil || len(got) != 0 {
		t.Errorf("audience %v, %v; want empty", got, err)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// TestEditRemoteStatus: only the status's own account edits it, an older
// or replayed edit changes nothing, and the history starts with the original.
func TestEditRemoteStatus(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	author := mustAccount(t, db, "author", "a.test")
	other := mustAccount(t, db, "other", "a.test")
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	st := &starling.Status{ID: starling.NewID(created), URI: "https://a.test/s/1", AccountID: author.ID,
		Content: "<p>v1</p>", Visibility: starling.VisibilityPublic, CreatedAt: created}
	if _, err := db.InsertRemoteStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	t1 := created.Add(time.Minute)
	tests := []struct {
		name    string
		account int64
		content string
		at      time.Time
		want    bool
	}{
		{"by another actor", other.ID, "<p>hijack</p>", t1, false},
		{"by the author", author.ID, "<p>v2</p>", t1, true},
		{"replayed", author.ID, "<p>v2</p>", t1, false},
		{"older", author.ID, "<p>v0</p>", t1.Add(-time.Second), false},
		{"newer", author.ID, "<p>v3</p>", t1.Add(time.Second), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.EditRemoteStatus(ctx, st.URI, tt.account, &starling.Status{Content: tt.content, EditedAt: tt.at})
			if err != nil || got != tt.want {
				t.Errorf("edited %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	now, err := db.StatusByID(ctx, st.ID)
	if err != nil || now.Content != "<p>v3</p>" || !now.EditedAt.Equal(t1.Add(time.Second)) {
		t.Errorf("status after the edits: %+v, %v", now, err)
	}
	edits, err := db.StatusEdits(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, e := range edits {
		versions = append(versions, e.Content)
	}
	if fmt.Sprint(versions) != "[<p>v1</p> <p>v2</p> <p>v3</p>]" {
		t.Errorf("history %v", versions)
	}
}
