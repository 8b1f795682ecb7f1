// Package storetest is the conformance suite of Starling's store: what the
// stages (outbox, inbox, fanout, timeline, the relay) rely on of whatever
// implements it. An implementation's tests call Run with a function that
// opens a fresh, empty, migrated store; store/postgres does so against a
// real PostgreSQL server.
//
// The suite imports no implementation and no driver.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/starling-social/starling"
)

// Store is what the suite exercises: the union of the small interfaces the
// stages declare, as far as the guarantees below go.
type Store interface {
	CreateLocalAccount(ctx context.Context, a *starling.Account, email, passwordHash string) error
	UpsertRemoteAccount(ctx context.Context, a *starling.Account) (*starling.Account, error)
	AccountByID(ctx context.Context, id int64) (*starling.Account, error)
	SigningKey(ctx context.Context, accountID int64) (keyID, pem string, err error)
	SigningKeys(ctx context.Context, accountID int64) (starling.SigningKeys, error)
	AccountByKeyID(ctx context.Context, keyID string) (*starling.Account, error)
	RotateEd25519Key(ctx context.Context, accountID int64, publicKey, privatePEM string, act *starling.Activity, events ...starling.Event) error

	InsertInboxActivity(ctx context.Context, a *starling.InboxActivity, events ...starling.Event) (bool, error)
	CountInboxActivities(ctx context.Context, uri string) (int, error)
	InsertRemoteStatus(ctx context.Context, s *starling.Status, events ...starling.Event) (bool, error)
	StatusByURI(ctx context.Context, uri string) (*starling.Status, error)
	UpsertRemoteFollow(ctx context.Context, f *starling.Follow) (*starling.Follow, error)
	FollowBetween(ctx context.Context, followerID, followeeID int64) (*starling.Follow, error)
	InsertActivity(ctx context.Context, a *starling.Activity, events ...starling.Event) (bool, error)

	AddStatusToFeeds(ctx context.Context, statusID int64) (int64, error)
	HomeFeedRefs(ctx context.Context, accountID int64, p starling.Page) ([]starling.FeedRef, error)
	TrimFeeds(ctx context.Context, after int64, batch, keep int) (last, deleted int64, err error)

	AppendEvents(ctx context.Context, events ...starling.Event) error
	RelayEvents(ctx context.Context, stream string, limit int, publish func(context.Context, []starling.Event) error) (int, error)

	InsertDeadLetter(ctx context.Context, d *starling.DeadLetter) error
	DeadLetters(ctx context.Context, f starling.DeadLetterFilter) ([]starling.DeadLetter, error)
	ReplayDeadLetters(ctx context.Context, f starling.DeadLetterFilter, event func(starling.DeadLetter) (starling.Event, error)) (int, error)

	More
	Lists
	Operator
	RemoteMedia
	HostSignatures
}

// Run runs the suite. open returns a fresh, empty store for one subtest;
// it is called once per subtest and cleans up through t.
func Run(t *testing.T, open func(t *testing.T) Store) {
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, Store)
	}{
		{"Accounts", testAccounts},
		{"SigningKey", testSigningKey},
		{"InboxActivityOnce", testInboxActivityOnce},
		{"RemoteStatusOnce", testRemoteStatusOnce},
		{"FollowUpsert", testFollowUpsert},
		{"ActivityOnce", testActivityOnce},
		{"FeedFanout", testFeedFanout},
		{"FeedTrim", testFeedTrim},
		{"EventOrder", testEventOrder},
		{"EventPublishFails", testEventPublishFails},
		{"DeadLetters", testDeadLetters},
		{"DataErrors", testDataErrors},
		{"FeedRules", testFeedRules},
		{"Thread", testThread},
		{"NotificationsOnce", testNotificationsOnce},
		{"OAuthCodes", testOAuthCodes},
		{"HostHealth", testHostHealth},
		{"FollowerInboxes", testFollowerInboxes},
		{"MarkersAndSearch", testMarkersAndSearch},
		{"EditRemoteStatus", testEditRemoteStatus},
		{"ListsAndConversations", testListsAndConversations},
		{"Operator", testOperator},
		{"DeliveryHistory", testDeliveryHistory},
		{"RemoteMedia", testRemoteMedia},
		{"HostSignatures", testHostSignatures},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// MustAccount stores a local account (domain empty) or a remote one.
func MustAccount(tb testing.TB, s Store, username, domain string) *starling.Account {
	tb.Helper()
	ctx := context.Background()
	host := domain
	if host == "" {
		host = "local.test"
	}
	a := &starling.Account{Username: username, Domain: domain, PublicKeyPEM: "public",
		URI: fmt.Sprintf("https://%s/users/%s", host, username)}
	a.InboxURL, a.KeyID = a.URI+"/inbox", a.URI+"#main-key"
	if domain == "" {
		a.PrivateKeyPEM = "private of " + username
		if err := s.CreateLocalAccount(ctx, a, username+"@local.test", "hash"); err != nil {
			tb.Fatal(err)
		}
		return a
	}
	a.SharedInboxURL = "https://" + domain + "/inbox"
	got, err := s.UpsertRemoteAccount(ctx, a)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// mustLocalPost stores a public local status of author, with its Create
// activity, at URI author's statuses/name.
func mustLocalPost(tb testing.TB, s Store, author *starling.Account, name string) (*starling.Status, *starling.Activity) {
	tb.Helper()
	now := time.Now()
	st := &starling.Status{ID: starling.NewID(now), URI: author.URI + "/statuses/" + name, AccountID: author.ID,
		Local: true, Content: "<p>" + name + "</p>", Visibility: starling.VisibilityPublic, CreatedAt: now}
	act := &starling.Activity{ID: starling.NewID(now), URI: st.URI + "/activity", Type: "Create", ActorID: author.ID,
		ObjectURI: st.URI, Payload: []byte(`{}`)}
	if err := s.CreateLocalStatus(context.Background(), st, act); err != nil {
		tb.Fatal(err)
	}
	return st, act
}

func mustFollow(tb testing.TB, s Store, follower, followee *starling.Account) *starling.Follow {
	tb.Helper()
	id := starling.NewID(time.Now())
	f, err := s.UpsertRemoteFollow(context.Background(), &starling.Follow{ID: id, FollowerID: follower.ID,
		FolloweeID: followee.ID, URI: fmt.Sprintf("https://x.test/follows/%d", id), Accepted: true})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func remoteStatus(author *starling.Account, n int) *starling.Status {
	uri := fmt.Sprintf("%s/statuses/%d", author.URI, n)
	return &starling.Status{ID: starling.NewID(time.Now()), URI: uri, URL: uri, AccountID: author.ID,
		Content: fmt.Sprintf("<p>post %d</p>", n), Visibility: starling.VisibilityPublic, CreatedAt: time.Now()}
}

// testStream is the stream of the suite's events: the first two tokens of
// their subjects.
const testStream = "test.events"

func event(name string, due time.Time) starling.Event {
	return starling.Event{MsgID: name, Subject: testStream + "." + name, Payload: []byte(`{}`), DueAt: due}
}

// relayAll publishes every due event and returns their message ids in the
// order the store handed them over.
func relayAll(tb testing.TB, s Store) []string {
	tb.Helper()
	var ids []string
	_, err := s.RelayEvents(context.Background(), testStream, 1000, func(_ context.Context, evs []starling.Event) error {
		for _, ev := range evs {
			ids = append(ids, ev.MsgID)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

func testAccounts(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	dup := &starling.Account{Username: "ALICE", URI: "https://local.test/users/ALICE"}
	if err := s.CreateLocalAccount(ctx, dup, "other@local.test", "h"); !errors.Is(err, starling.ErrConflict) {
		t.Errorf("a taken username: got %v, want ErrConflict", err)
	}
	evil := &starling.Account{Username: "alice", Domain: "evil.test", URI: alice.URI, PublicKeyPEM: "x"}
	if _, err := s.UpsertRemoteAccount(ctx, evil); starling.ErrorCode(err) != starling.ECONFLICT {
		t.Errorf("a remote document taking over a local account: got %v, want ECONFLICT", err)
	}
	bob := MustAccount(t, s, "bob", "b.test")
	bob.DisplayName = "Bob"
	if again, err := s.UpsertRemoteAccount(ctx, bob); err != nil || again.ID != bob.ID || again.DisplayName != "Bob" {
		t.Errorf("upsert again: got %+v, %v; want the same id", again, err)
	}
	if _, err := s.AccountByID(ctx, -1); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("no such account: got %v, want ErrNotFound", err)
	}
}

func testSigningKey(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	got, err := s.AccountByID(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PrivateKeyPEM != "" {
		t.Error("an account read carries the private key")
	}
	keyID, pem, err := s.SigningKey(ctx, alice.ID)
	if err != nil || keyID != alice.KeyID || pem != "private of alice" {
		t.Errorf("SigningKey = %q, %q, %v", keyID, pem, err)
	}
	bob := MustAccount(t, s, "bob", "b.test")
	if _, _, err := s.SigningKey(ctx, bob.ID); starling.ErrorCode(err) != starling.ENOTFOUND {
		t.Errorf("a remote account's key: got %v, want ENOTFOUND", err)
	}
	if _, err := s.SigningKeys(ctx, bob.ID); starling.ErrorCode(err) != starling.ENOTFOUND {
		t.Errorf("a remote account's keys: got %v, want ENOTFOUND", err)
	}
	// Without an Ed25519 key: the RSA key alone.
	if k, err := s.SigningKeys(ctx, alice.ID); err != nil || k != (starling.SigningKeys{KeyID: alice.KeyID, PEM: "private of alice"}) {
		t.Errorf("SigningKeys = %+v, %v", k, err)
	}

	// With one: the public key is read with the account and found by its
	// id; the private key only through SigningKeys.
	carol := &starling.Account{Username: "carol", URI: "https://local.test/users/carol", PublicKeyPEM: "public",
		PrivateKeyPEM: "private of carol", Ed25519PublicKey: "z6Mk", Ed25519PrivateKeyPEM: "ed25519 private of carol"}
	carol.InboxURL, carol.KeyID, carol.Ed25519KeyID = carol.URI+"/inbox", carol.URI+"#main-key", carol.URI+"#ed25519-key"
	if err := s.CreateLocalAccount(ctx, carol, "carol@local.test", "hash"); err != nil {
		t.Fatal(err)
	}
	got, err = s.AccountByKeyID(ctx, carol.Ed25519KeyID)
	if err != nil || got.ID != carol.ID || got.Ed25519KeyID != carol.Ed25519KeyID || got.Ed25519PublicKey != "z6Mk" || got.Ed25519PrivateKeyPEM != "" {
		t.Errorf("AccountByKeyID(ed25519) = %+v, %v", got, err)
	}
	want := starling.SigningKeys{KeyID: carol.KeyID, PEM: "private of carol", Ed25519KeyID: carol.Ed25519KeyID, Ed25519PEM: "ed25519 private of carol"}
	if k, err := s.SigningKeys(ctx, carol.ID); err != nil || k != want {
		t.Errorf("SigningKeys = %+v, %v; want %+v", k, err, want)
	}

	// A rotation replaces the pair under the same id, with its Update and
	// events in the same transaction; an account without an Ed25519 key
	// (alice) or a remote one (bob) has none to rotate.
	update := &starling.Activity{ID: starling.NewID(time.Now()), URI: carol.URI + "#updates/1", Type: "Update",
		ActorID: carol.ID, ObjectURI: carol.URI, Payload: []byte(`{"type":"Update"}`)}
	if err := s.RotateEd25519Key(ctx, carol.ID, "z6MkNew", "new ed25519 private of carol", update, event("rotate-carol", time.Time{})); err != nil {
		t.Fatal(err)
	}
	want.Ed25519PEM = "new ed25519 private of carol"
	if k, err := s.SigningKeys(ctx, carol.ID); err != nil || k != want {
		t.Errorf("SigningKeys after rotation = %+v, %v; want %+v", k, err, want)
	}
	if got, err := s.AccountByKeyID(ctx, carol.Ed25519KeyID); err != nil || got.Ed25519PublicKey != "z6MkNew" {
		t.Errorf("AccountByKeyID after rotation = %+v, %v", got, err)
	}
	if got := relayAll(t, s); !slices.Contains(got, "rotate-carol") {
		t.Errorf("events %q lack the rotation's", got)
	}
	for _, a := range []*starling.Account{alice, bob} {
		if err := s.RotateEd25519Key(ctx, a.ID, "z6MkX", "x", nil); starling.ErrorCode(err) != starling.ENOTFOUND {
			t.Errorf("rotating %s: got %v, want ENOTFOUND", a.Username, err)
		}
	}
}

func testInboxActivityOnce(t *testing.T, s Store) {
	ctx := context.Background()
	a := &starling.InboxActivity{URI: "https://b.test/activities/1", Type: "Create",
		ActorURI: "https://b.test/users/bob", Payload: []byte(`{"type":"Create"}`)}
	for i, want := range []bool{true, false} {
		again := *a
		inserted, err := s.InsertInboxActivity(ctx, &again, event(fmt.Sprintf("inbox-%d", i), time.Time{}))
		if err != nil || inserted != want {
			t.Fatalf("insert %d: got %v, %v; want %v", i, inserted, err, want)
		}
	}
	if n, err := s.CountInboxActivities(ctx, a.URI); err != nil || n != 1 {
		t.Errorf("stored %d times (%v), want once", n, err)
	}
	if got := relayAll(t, s); !slices.Equal(got, []string{"inbox-0"}) {
		t.Errorf("events %q: a replay must append none", got)
	}
}

func testRemoteStatusOnce(t *testing.T, s Store) {
	ctx := context.Background()
	bob := MustAccount(t, s, "bob", "b.test")
	st := remoteStatus(bob, 1)
	if ok, err := s.InsertRemoteStatus(ctx, st, event("created", time.Time{})); err != nil || !ok {
		t.Fatalf("first insert: %v, %v", ok, err)
	}
	dup := remoteStatus(bob, 1)
	dup.Content = "<p>other words</p>"
	if ok, err := s.InsertRemoteStatus(ctx, dup, event("created-again", time.Time{})); err != nil || ok {
		t.Fatalf("second insert of the same uri: %v, %v; want false", ok, err)
	}
	got, err := s.StatusByURI(ctx, st.URI)
	if err != nil || got.ID != st.ID || got.Content != st.Content {
		t.Errorf("got %+v, %v; want the first", got, err)
	}
	if got := relayAll(t, s); !slices.Equal(got, []string{"created"}) {
		t.Errorf("events %q, want the first insert's only", got)
	}
}

func testFollowUpsert(t *testing.T, s Store) {
	ctx := context.Background()
	alice, bob := MustAccount(t, s, "alice", ""), MustAccount(t, s, "bob", "b.test")
	first := mustFollow(t, s, bob, alice)
	second := mustFollow(t, s, bob, alice)
	if second.ID != first.ID {
		t.Errorf("a repeated Follow made a second row: %d, %d", first.ID, second.ID)
	}
	got, err := s.FollowBetween(ctx, bob.ID, alice.ID)
	if err != nil || got.ID != first.ID || got.URI != second.URI {
		t.Errorf("got %+v, %v; want the row with the latest activity id %s", got, err, second.URI)
	}
	if _, err := s.FollowBetween(ctx, alice.ID, bob.ID); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("the other way: got %v, want ErrNotFound", err)
	}
}

func testActivityOnce(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	act := &starling.Activity{ID: starling.NewID(time.Now()), URI: alice.URI + "#accepts/1", Type: "Accept",
		ActorID: alice.ID, Payload: []byte(`{}`)}
	if ok, err := s.InsertActivity(ctx, act, event("accept", time.Time{})); err != nil || !ok {
		t.Fatalf("first: %v, %v", ok, err)
	}
	again := *act
	again.ID = starling.NewID(time.Now())
	if ok, err := s.InsertActivity(ctx, &again, event("accept-again", time.Time{})); err != nil || ok {
		t.Fatalf("same uri again: %v, %v; want false", ok, err)
	}
	if got := relayAll(t, s); !slices.Equal(got, []string{"accept"}) {
		t.Errorf("events %q, want the first insert's only", got)
	}
}

func testFeedFanout(t *testing.T, s Store) {
	ctx := context.Background()
	alice, carol := MustAccount(t, s, "alice", ""), MustAccount(t, s, "carol", "")
	bob := MustAccount(t, s, "bob", "b.test")
	mustFollow(t, s, alice, bob)
	_ = carol // follows nobody: gets nothing
	st := remoteStatus(bob, 1)
	if _, err := s.InsertRemoteStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	if n, err := s.AddStatusToFeeds(ctx, st.ID); err != nil || n != 1 {
		t.Fatalf("fan-out reached %d feeds (%v), want alice's", n, err)
	}
	if n, err := s.AddStatusToFeeds(ctx, st.ID); err != nil || n != 0 {
		t.Errorf("a replayed fan-out added %d (%v), want 0", n, err)
	}
	refs, err := s.HomeFeedRefs(ctx, alice.ID, starling.Page{Limit: 40})
	if err != nil || len(refs) != 1 || refs[0].ID != st.ID {
		t.Errorf("alice's feed: %+v, %v", refs, err)
	}
	if refs, err := s.HomeFeedRefs(ctx, carol.ID, starling.Page{Limit: 40}); err != nil || len(refs) != 0 {
		t.Errorf("carol's feed: %+v, %v; want empty", refs, err)
	}
}

func testFeedTrim(t *testing.T, s Store) {
	ctx := context.Background()
	alice, bob := MustAccount(t, s, "alice", ""), MustAccount(t, s, "bob", "b.test")
	mustFollow(t, s, alice, bob)
	var ids []int64
	for i := range 3 {
		st := remoteStatus(bob, i)
		if _, err := s.InsertRemoteStatus(ctx, st); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddStatusToFeeds(ctx, st.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.ID)
	}
	if _, deleted, err := s.TrimFeeds(ctx, 0, 500, 2); err != nil || deleted != 1 {
		t.Fatalf("trim deleted %d (%v), want 1", deleted, err)
	}
	refs, err := s.HomeFeedRefs(ctx, alice.ID, starling.Page{Limit: 40})
	if err != nil || len(refs) != 2 || refs[0].ID != ids[2] || refs[1].ID != ids[1] {
		t.Errorf("after trim: %+v, %v; want the newest two, %v", refs, err, ids[1:])
	}
	if _, deleted, err := s.TrimFeeds(ctx, 0, 500, 2); err != nil || deleted != 0 {
		t.Errorf("a second sweep deleted %d (%v), want 0", deleted, err)
	}
}

func testEventOrder(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	// Due now (zero) events of one call keep their order; an earlier due
	// time goes first; a later one waits.
	if err := s.AppendEvents(ctx, event("later", now.Add(time.Hour)), event("first", time.Time{}), event("second", time.Time{})); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, event("earliest", now.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	var got []string
	n, err := s.RelayEvents(ctx, testStream, 1, func(_ context.Context, evs []starling.Event) error {
		for _, ev := range evs {
			got = append(got, ev.MsgID)
		}
		return nil
	})
	if err != nil || n != 1 || !slices.Equal(got, []string{"earliest"}) {
		t.Fatalf("limit 1: %d %q %v; want earliest", n, got, err)
	}
	if got := relayAll(t, s); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("got %q, want first, second (and later not yet)", got)
	}
	if got := relayAll(t, s); len(got) != 0 {
		t.Errorf("published events came back: %q", got)
	}
}

func testEventPublishFails(t *testing.T, s Store) {
	ctx := context.Background()
	ev := event("one", time.Time{})
	ev.Headers = map[string]string{"Starling-Correlation-Id": "c1"}
	if err := s.AppendEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("nats away")
	if _, err := s.RelayEvents(ctx, testStream, 10, func(context.Context, []starling.Event) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the publish error", err)
	}
	var got []starling.Event
	if _, err := s.RelayEvents(ctx, testStream, 10, func(_ context.Context, evs []starling.Event) error {
		got = append(got, evs...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].MsgID != "one" || got[0].Subject != testStream+".one" || string(got[0].Payload) != `{}` ||
		got[0].Headers["Starling-Correlation-Id"] != "c1" {
		t.Errorf("after a failed publish: %+v, want the event, whole", got)
	}
}

func testDeadLetters(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	act := &starling.Activity{ID: starling.NewID(time.Now()), URI: alice.URI + "#creates/1", Type: "Create",
		ActorID: alice.ID, Payload: []byte(`{}`)}
	if _, err := s.InsertActivity(ctx, act); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, host := range []string{"b.test", "c.test"} {
		d := &starling.DeadLetter{ActivityID: act.ID, ActorID: alice.ID, Inbox: "https://" + host + "/inbox", Host: host,
			Attempts: 8, FirstError: "503", LastError: "timeout", FirstFailedAt: now.Add(-time.Hour), LastFailedAt: now}
		if err := s.InsertDeadLetter(ctx, d); err != nil || d.ID == 0 {
			t.Fatalf("insert: %v (id %d)", err, d.ID)
		}
	}
	list, err := s.DeadLetters(ctx, starling.DeadLetterFilter{Host: "b.test"})
	if err != nil || len(list) != 1 || list[0].Inbox != "https://b.test/inbox" || list[0].Attempts != 8 ||
		list[0].LastError != "timeout" || !list[0].ReplayedAt.IsZero() {
		t.Fatalf("list b.test: %+v, %v", list, err)
	}
	replay := func(d starling.DeadLetter) (starling.Event, error) {
		return event(fmt.Sprintf("replay-%d", d.ID), time.Time{}), nil
	}
	if n, err := s.ReplayDeadLetters(ctx, starling.DeadLetterFilter{Host: "b.test"}, replay); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	if n, err := s.ReplayDeadLetters(ctx, starling.DeadLetterFilter{Host: "b.test"}, replay); err != nil || n != 0 {
		t.Errorf("a second replay queued %d (%v), want 0", n, err)
	}
	if got := relayAll(t, s); !slices.Equal(got, []string{fmt.Sprintf("replay-%d", list[0].ID)}) {
		t.Errorf("events %q, want one replay", got)
	}
	if done, err := s.DeadLetters(ctx, starling.DeadLetterFilter{Host: "b.test", Replayed: true}); err != nil ||
		len(done) != 1 || done[0].ReplayedAt.IsZero() {
		t.Errorf("replayed: %+v, %v", done, err)
	}
	if left, err := s.DeadLetters(ctx, starling.DeadLetterFilter{}); err != nil || len(left) != 1 || left[0].Host != "c.test" {
		t.Errorf("not replayed: %+v, %v; want c.test's", left, err)
	}
}
