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

// More is what the cases of this file exercise besides Store: behaviours
// whose SQL differs most between the stores (fan-out rules, threads,
// notifications once, OAuth codes, host health, refusals of bad data).
type More interface {
	CreateLocalStatus(ctx context.Context, s *starling.Status, act *starling.Activity, events ...starling.Event) error
	CreateReblog(ctx context.Context, s *starling.Status, reblogOfID int64, act *starling.Activity, events ...starling.Event) (*starling.Status, bool, error)
	CreateMute(ctx context.Context, accountID, targetID int64, events ...starling.Event) (bool, error)
	CreateDomainBlock(ctx context.Context, accountID int64, domain string, events ...starling.Event) (bool, error)
	IndexStatus(ctx context.Context, statusID int64, tags []string, mentions []int64) error
	CountFeedEntries(ctx context.Context, accountID, statusID int64) (int, error)
	RemoveStatusFromFeeds(ctx context.Context, statusID int64) (int64, error)
	Unmerge(ctx context.Context, accountID, targetID int64, domain string, reblogs bool) (int64, error)
	DeleteRemoteStatus(ctx context.Context, uri string, accountID int64, events ...starling.Event) (bool, error)

	StatusAncestors(ctx context.Context, statusID int64, limit int) ([]int64, error)
	StatusDescendants(ctx context.Context, statusID int64, limit int) ([]int64, error)

	InsertNotification(ctx context.Context, n *starling.Notification) (bool, error)
	Notifications(ctx context.Context, accountID int64, p starling.Page, f starling.NotificationFilter) ([]*starling.Notification, error)

	CreateOAuthApplication(ctx context.Context, app *starling.OAuthApplication) error
	CreateAuthorizationCode(ctx context.Context, c *starling.OAuthCode) error
	ExchangeAuthorizationCode(ctx context.Context, codeSHA256 []byte, check func(*starling.OAuthCode) error, tokenSHA256 []byte) (*starling.OAuthCode, error)
	AccountByToken(ctx context.Context, tokenSHA256 []byte) (*starling.Account, string, error)
	HasMatchingToken(ctx context.Context, applicationID, accountID int64, scopes string) (bool, error)
	CreateAppToken(ctx context.Context, tokenSHA256 []byte, applicationID int64, scopes string) error
	AppTokenScopes(ctx context.Context, tokenSHA256 []byte) (string, error)
	RevokeOAuthToken(ctx context.Context, tokenSHA256 []byte, applicationID int64) (int64, error)

	RecordHostFailure(ctx context.Context, host, lastError string, unavailableAfter int) (bool, error)
	RecordHostSuccess(ctx context.Context, host string) error
	FailingHosts(ctx context.Context) ([]starling.HostHealth, error)
	FollowerInboxes(ctx context.Context, accountID int64, asOf time.Time) ([]string, error)
	CreateFollow(ctx context.Context, f *starling.Follow, act *starling.Activity, events ...starling.Event) (*starling.Follow, bool, error)
	MarkInboxGone(ctx context.Context, inbox string) error
	ClearInboxGone(ctx context.Context, inbox string) error

	SaveMarker(ctx context.Context, accountID int64, timeline string, lastReadID int64) (starling.Marker, error)
	Markers(ctx context.Context, accountID int64) (map[string]starling.Marker, error)
	SearchAccounts(ctx context.Context, viewer int64, q string, following bool, offset, limit int) ([]*starling.Account, error)

	EditRemoteStatus(ctx context.Context, uri string, accountID int64, s *starling.Status, events ...starling.Event) (bool, error)
	StatusByID(ctx context.Context, id int64) (*starling.Status, error)
	StatusEdits(ctx context.Context, statusID int64) ([]starling.StatusEdit, error)
}

func insertRemote(tb testing.TB, s Store, st *starling.Status) *starling.Status {
	tb.Helper()
	if _, err := s.InsertRemoteStatus(context.Background(), st); err != nil {
		tb.Fatal(err)
	}
	return st
}

// testDataErrors: input a store refuses for what it is is a data error
// (a consumer drops it rather than retry it forever), whichever store
// refuses it; a status already there is not an error at all.
func testDataErrors(t *testing.T, s Store) {
	ctx := context.Background()
	bob := MustAccount(t, s, "bob", "b.test")
	first := insertRemote(t, s, remoteStatus(bob, 1))
	for _, tt := range []struct {
		name string
		edit func(*starling.Status)
		want bool
	}{
		{"a NUL in text", func(st *starling.Status) { st.Content = "a\x00b" }, true},
		{"invalid UTF-8", func(st *starling.Status) { st.Content = "a\xffb" }, true},
		{"an unknown author (foreign key)", func(st *starling.Status) { st.AccountID = -7 }, true},
		{"a status already there", func(st *starling.Status) { st.URI = first.URI }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := remoteStatus(bob, 2)
			tt.edit(st)
			ok, err := s.InsertRemoteStatus(ctx, st)
			if got := starling.IsDataError(err); got != tt.want || (tt.want && ok) {
				t.Errorf("inserted %v, error %v: IsDataError %v, want %v", ok, err, got, tt.want)
			}
		})
	}
	t.Run("a NUL in a remote actor's name", func(t *testing.T) {
		a := &starling.Account{Username: "nul", Domain: "b.test", URI: "https://b.test/users/nul", DisplayName: "a\x00b", PublicKeyPEM: "x"}
		if _, err := s.UpsertRemoteAccount(ctx, a); !starling.IsDataError(err) {
			t.Errorf("got %v, want a data error", err)
		}
	})
	t.Run("invalid UTF-8 in a Follow's id", func(t *testing.T) {
		f := &starling.Follow{ID: starling.NewID(time.Now()), FollowerID: bob.ID, FolloweeID: bob.ID, URI: "https://b.test/\xff"}
		if _, err := s.UpsertRemoteFollow(ctx, f); !starling.IsDataError(err) {
			t.Errorf("got %v, want a data error", err)
		}
	})
}

// testFeedRules: Mastodon's rules of who gets a status in their home feed,
// step by step (see store/postgres's fanoutSQL).
func testFeedRules(t *testing.T, s Store) {
	ctx := context.Background()
	alice, carol := MustAccount(t, s, "alice", ""), MustAccount(t, s, "carol", "")
	bob, dan, eve := MustAccount(t, s, "bob", "b.test"), MustAccount(t, s, "dan", "d.test"), MustAccount(t, s, "eve", "e.test")
	mustFollow(t, s, alice, bob)
	mustFollow(t, s, carol, bob)
	mustFollow(t, s, alice, eve)
	n := 0
	post := func(author *starling.Account, edit func(*starling.Status)) *starling.Status {
		n++
		st := remoteStatus(author, n)
		if edit != nil {
			edit(st)
		}
		return insertRemote(t, s, st)
	}
	boost := func(by *starling.Account, of *starling.Status) *starling.Status {
		n++
		st := starling.NewReblog(starling.NewID(time.Now()), fmt.Sprintf("%s/boosts/%d", by.URI, n), by.ID, false, time.Now())
		if _, _, err := s.CreateReblog(ctx, st, of.ID, nil); err != nil {
			t.Fatal(err)
		}
		return st
	}
	danPost := post(dan, nil)
	var p1 *starling.Status
	for _, tt := range []struct {
		name         string
		status       func() *starling.Status
		alice, carol bool
	}{
		{"a post reaches the author's followers", func() *starling.Status { p1 = post(bob, nil); return p1 }, true, true},
		{"a reply to someone the reader does not follow does not", func() *starling.Status {
			return post(bob, func(st *starling.Status) { st.InReplyToURI = danPost.URI })
		}, false, false},
		{"a reply to the author's own post does", func() *starling.Status {
			return post(bob, func(st *starling.Status) { st.InReplyToURI = p1.URI })
		}, true, true},
		{"a boost reaches the booster's followers", func() *starling.Status { return boost(bob, danPost) }, true, true},
		{"a second boost of a status in the feed does not", func() *starling.Status { return boost(eve, danPost) }, false, false},
		{"a muted author's post is left out", func() *starling.Status {
			if _, err := s.CreateMute(ctx, carol.ID, bob.ID); err != nil {
				t.Fatal(err)
			}
			return post(bob, nil)
		}, true, false},
		{"a blocked domain's post is left out", func() *starling.Status {
			if _, err := s.CreateDomainBlock(ctx, alice.ID, "B.test"); err != nil {
				t.Fatal(err)
			}
			return post(bob, nil)
		}, false, false},
		{"a direct post reaches its addressees only", func() *starling.Status {
			st := post(eve, func(st *starling.Status) { st.Visibility = starling.VisibilityDirect })
			if err := s.IndexStatus(ctx, st.ID, nil, []int64{carol.ID}); err != nil {
				t.Fatal(err)
			}
			return st
		}, false, true},
		{"a local author gets their own post", func() *starling.Status {
			st, _ := mustLocalPost(t, s, alice, "1")
			return st
		}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.status()
			if _, err := s.AddStatusToFeeds(ctx, st.ID); err != nil {
				t.Fatal(err)
			}
			for _, r := range []struct {
				who  *starling.Account
				want bool
			}{{alice, tt.alice}, {carol, tt.carol}} {
				got, err := s.CountFeedEntries(ctx, r.who.ID, st.ID)
				if err != nil || (got == 1) != r.want || got > 1 {
					t.Errorf("%s's feed holds it %d times (%v), want %v", r.who.Username, got, err, r.want)
				}
			}
		})
	}
	if n, err := s.RemoveStatusFromFeeds(ctx, p1.ID); err != nil || n != 2 {
		t.Errorf("removing the first post took %d entries (%v), want alice's and carol's", n, err)
	}
	if n, err := s.Unmerge(ctx, carol.ID, bob.ID, "", true); err != nil || n != 2 {
		t.Errorf("unmerging bob from carol's feed took %d entries (%v), want his reply and his boost", n, err)
	}
	if refs, err := s.HomeFeedRefs(ctx, carol.ID, starling.Page{Limit: 40}); err != nil || len(refs) != 1 {
		t.Errorf("carol's feed after the unmerge: %+v, %v; want the direct post only", refs, err)
	}
}

// testThread: ancestors root first, descendants depth first, deleted
// replies left out.
func testThread(t *testing.T, s Store) {
	ctx := context.Background()
	bob := MustAccount(t, s, "bob", "b.test")
	n := 0
	reply := func(to *starling.Status) *starling.Status {
		n++
		st := remoteStatus(bob, n)
		if to != nil {
			st.InReplyToURI = to.URI
		}
		return insertRemote(t, s, st)
	}
	root := reply(nil)
	a1 := reply(root)
	a2 := reply(root)
	b1 := reply(a1)
	c1 := reply(b1)
	gone := reply(a2)
	if _, err := s.DeleteRemoteStatus(ctx, gone.URI, bob.ID); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		got  func() ([]int64, error)
		want []int64
	}{
		{"ancestors", func() ([]int64, error) { return s.StatusAncestors(ctx, c1.ID, 40) }, []int64{root.ID, a1.ID, b1.ID}},
		{"ancestors, limited", func() ([]int64, error) { return s.StatusAncestors(ctx, c1.ID, 1) }, []int64{b1.ID}},
		{"descendants", func() ([]int64, error) { return s.StatusDescendants(ctx, root.ID, 40) }, []int64{a1.ID, b1.ID, c1.ID, a2.ID}},
		{"descendants, limited", func() ([]int64, error) { return s.StatusDescendants(ctx, root.ID, 2) }, []int64{a1.ID, b1.ID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// testNotificationsOnce: one notification per recipient, type, sender and
// status, a follow (no status) included; none to oneself or from a muted
// account.
func testNotificationsOnce(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	bob, mallory := MustAccount(t, s, "bob", "b.test"), MustAccount(t, s, "mallory", "m.test")
	st := insertRemote(t, s, remoteStatus(bob, 1))
	if _, err := s.CreateMute(ctx, alice.ID, mallory.ID); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		n    starling.Notification
		want bool
	}{
		{"a follow", starling.Notification{AccountID: alice.ID, Type: starling.NotifyFollow, FromAccountID: bob.ID}, true},
		{"the follow again", starling.Notification{AccountID: alice.ID, Type: starling.NotifyFollow, FromAccountID: bob.ID}, false},
		{"a mention", starling.Notification{AccountID: alice.ID, Type: starling.NotifyMention, FromAccountID: bob.ID, StatusID: st.ID}, true},
		{"the mention again", starling.Notification{AccountID: alice.ID, Type: starling.NotifyMention, FromAccountID: bob.ID, StatusID: st.ID}, false},
		{"to oneself", starling.Notification{AccountID: alice.ID, Type: starling.NotifyFollow, FromAccountID: alice.ID}, false},
		{"from a muted account", starling.Notification{AccountID: alice.ID, Type: starling.NotifyFollow, FromAccountID: mallory.ID}, false},
		{"to a remote account", starling.Notification{AccountID: bob.ID, Type: starling.NotifyFollow, FromAccountID: alice.ID}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.n
			n.ID = starling.NewID(time.Now())
			if got, err := s.InsertNotification(ctx, &n); err != nil || got != tt.want {
				t.Errorf("inserted %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	all, err := s.Notifications(ctx, alice.ID, starling.Page{Limit: 40}, starling.NotificationFilter{})
	if err != nil || len(all) != 2 || all[0].Type != starling.NotifyMention || all[0].Status == nil || all[0].From.ID != bob.ID {
		t.Fatalf("notifications: %+v, %v; want the mention (with its status) then the follow", all, err)
	}
	only, err := s.Notifications(ctx, alice.ID, starling.Page{Limit: 40}, starling.NotificationFilter{ExcludeTypes: []string{starling.NotifyMention}})
	if err != nil || len(only) != 1 || only[0].Type != starling.NotifyFollow {
		t.Errorf("without mentions: %+v, %v", only, err)
	}
}

// testOAuthCodes: a code is exchanged once; a second exchange is refused
// and revokes what the first issued; scopes match in any order; a token is
// revoked only by its own application.
func testOAuthCodes(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	app := &starling.OAuthApplication{Name: "client", RedirectURIs: []string{"https://client.test/cb", "urn:ietf:wg:oauth:2.0:oob"},
		Scopes: "read write", ClientID: "cid", ClientSecretSHA256: []byte("secret")}
	if err := s.CreateOAuthApplication(ctx, app); err != nil || app.ID == 0 || app.CreatedAt.IsZero() {
		t.Fatalf("create application: %+v, %v", app, err)
	}
	code := func(name string, expires time.Time) []byte {
		c := &starling.OAuthCode{CodeSHA256: []byte(name), ApplicationID: app.ID, AccountID: alice.ID,
			RedirectURI: "https://client.test/cb", Scopes: "read write", ExpiresAt: expires}
		if err := s.CreateAuthorizationCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c.CodeSHA256
	}
	ok := func(*starling.OAuthCode) error { return nil }
	live, expired := code("live", time.Now().Add(time.Minute)), code("expired", time.Now().Add(-time.Minute))
	if _, err := s.ExchangeAuthorizationCode(ctx, expired, ok, []byte("t0")); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("an expired code: %v, want ErrNotFound", err)
	}
	refused := errors.New("wrong redirect")
	if _, err := s.ExchangeAuthorizationCode(ctx, live, func(*starling.OAuthCode) error { return refused }, []byte("t0")); !errors.Is(err, refused) {
		t.Errorf("a refused check: %v", err)
	}
	if c, err := s.ExchangeAuthorizationCode(ctx, live, ok, []byte("t1")); err != nil || c.AccountID != alice.ID || c.Scopes != "read write" {
		t.Fatalf("exchange: %+v, %v", c, err)
	}
	if a, scopes, err := s.AccountByToken(ctx, []byte("t1")); err != nil || a.ID != alice.ID || scopes != "read write" {
		t.Errorf("token: %v %q %v", a, scopes, err)
	}
	if match, err := s.HasMatchingToken(ctx, app.ID, alice.ID, "write read"); err != nil || !match {
		t.Errorf("matching token in another order: %v, %v", match, err)
	}
	if match, err := s.HasMatchingToken(ctx, app.ID, alice.ID, "read"); err != nil || match {
		t.Errorf("matching token with fewer scopes: %v, %v", match, err)
	}
	if _, err := s.ExchangeAuthorizationCode(ctx, live, ok, []byte("t2")); !errors.Is(err, starling.ErrCodeUsed) {
		t.Errorf("a second exchange: %v, want ErrCodeUsed", err)
	}
	if _, _, err := s.AccountByToken(ctx, []byte("t1")); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("the first exchange's token after a second: %v, want it revoked", err)
	}

	if err := s.CreateAppToken(ctx, []byte("app"), app.ID, "read"); err != nil {
		t.Fatal(err)
	}
	if owner, err := s.RevokeOAuthToken(ctx, []byte("app"), app.ID+1); err != nil || owner != app.ID {
		t.Errorf("revoke by another application: owner %d, %v", owner, err)
	}
	if scopes, err := s.AppTokenScopes(ctx, []byte("app")); err != nil || scopes != "read" {
		t.Errorf("after another application's revoke: %q, %v; want it live", scopes, err)
	}
	if _, err := s.RevokeOAuthToken(ctx, []byte("app"), app.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppTokenScopes(ctx, []byte("app")); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("after its application's revoke: %v, want ErrNotFound", err)
	}
	if _, err := s.RevokeOAuthToken(ctx, []byte("nobody's"), app.ID); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("revoke an unknown token: %v, want ErrNotFound", err)
	}
}

// testHostHealth: failures on one day count once; the call that makes a
// host unavailable reports it; a success clears the host.
func testHostHealth(t *testing.T, s Store) {
	ctx := context.Background()
	for i, want := range []bool{false, false, false} {
		if became, err := s.RecordHostFailure(ctx, "slow.test", fmt.Sprintf("error %d", i), 3); err != nil || became != want {
			t.Fatalf("same-day failure %d: became %v, %v", i, became, err)
		}
	}
	// The first failure only opens the host's record (it is not judged
	// until a later one); the one that then reaches the threshold reports
	// it, once.
	for i, want := range []bool{false, true, false} {
		if became, err := s.RecordHostFailure(ctx, "down.test", "timeout", 1); err != nil || became != want {
			t.Errorf("failure %d at a threshold of one day: became %v, %v; want %v", i, became, err, want)
		}
	}
	hosts, err := s.FailingHosts(ctx)
	if err != nil || len(hosts) != 2 || hosts[0].Host != "down.test" || !hosts[0].Unavailable ||
		hosts[1].FailureDays != 1 || hosts[1].LastError != "error 2" || hosts[1].Unavailable || hosts[1].FirstFailedAt.IsZero() {
		t.Fatalf("failing hosts: %+v, %v", hosts, err)
	}
	if err := s.RecordHostSuccess(ctx, "down.test"); err != nil {
		t.Fatal(err)
	}
	if hosts, err := s.FailingHosts(ctx); err != nil || len(hosts) != 1 || hosts[0].Host != "slow.test" {
		t.Errorf("after a success: %+v, %v", hosts, err)
	}
}

// testFollowerInboxes: accepted remote followers, collapsed onto shared
// inboxes, without inboxes that answered 410 Gone, and only follows made
// by asOf.
func testFollowerInboxes(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	for i := range 3 {
		mustFollow(t, s, MustAccount(t, s, fmt.Sprintf("u%d", i), "b.test"), alice)
	}
	mustFollow(t, s, MustAccount(t, s, "carol", ""), alice) // local: no inbox
	pending := MustAccount(t, s, "pending", "p.test")
	if _, _, err := s.CreateFollow(ctx, &starling.Follow{ID: starling.NewID(time.Now()), FollowerID: pending.ID, FolloweeID: alice.ID,
		URI: "https://p.test/follows/1"}, nil); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	time.Sleep(5 * time.Millisecond)
	mustFollow(t, s, MustAccount(t, s, "late", "c.test"), alice)
	inboxes := func(asOf time.Time) []string {
		t.Helper()
		got, err := s.FollowerInboxes(ctx, alice.ID, asOf)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	if got := inboxes(time.Time{}); !slices.Equal(got, []string{"https://b.test/inbox", "https://c.test/inbox"}) {
		t.Errorf("all: %v", got)
	}
	if got := inboxes(before); !slices.Equal(got, []string{"https://b.test/inbox"}) {
		t.Errorf("as of before the late follow: %v", got)
	}
	if err := s.MarkInboxGone(ctx, "https://b.test/inbox"); err != nil {
		t.Fatal(err)
	}
	if got := inboxes(time.Time{}); !slices.Equal(got, []string{"https://c.test/inbox"}) {
		t.Errorf("with b.test gone: %v", got)
	}
	if err := s.ClearInboxGone(ctx, "https://b.test/inbox"); err != nil {
		t.Fatal(err)
	}
	if got := inboxes(time.Time{}); len(got) != 2 {
		t.Errorf("with b.test back: %v", got)
	}
}

// testMarkersAndSearch: a marker's version counts its saves; account
// search is by prefix, case-insensitive, local accounts first, with LIKE's
// wildcards taken literally.
func testMarkersAndSearch(t *testing.T, s Store) {
	ctx := context.Background()
	alice := MustAccount(t, s, "alice", "")
	for i, want := range []int{0, 1} {
		got, err := s.SaveMarker(ctx, alice.ID, "home", int64(100+i))
		if err != nil || got.Version != want || got.LastReadID != int64(100+i) || got.UpdatedAt.IsZero() {
			t.Errorf("save %d: %+v, %v", i, got, err)
		}
	}
	if ms, err := s.Markers(ctx, alice.ID); err != nil || len(ms) != 1 || ms["home"].LastReadID != 101 {
		t.Errorf("markers: %+v, %v", ms, err)
	}
	MustAccount(t, s, "Alfred", "a.test")
	MustAccount(t, s, "al_x", "")
	MustAccount(t, s, "alex", "")
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"AL", []string{"al_x", "alex", "alice", "Alfred"}},
		{"al_", []string{"al_x"}},
		{"al%", nil},
		{"bob", nil},
	} {
		got, err := s.SearchAccounts(ctx, alice.ID, tt.q, false, 0, 10)
		var names []string
		for _, a := range got {
			names = append(names, a.Username)
		}
		if err != nil || !slices.Equal(names, tt.want) {
			t.Errorf("search %q: %v, %v; want %v", tt.q, names, err, tt.want)
		}
	}
}

// testEditRemoteStatus: only the status's own account edits it, an older
// or replayed edit changes nothing, and the history starts with the original.
func testEditRemoteStatus(t *testing.T, s Store) {
	ctx := context.Background()
	author, other := MustAccount(t, s, "author", "a.test"), MustAccount(t, s, "other", "a.test")
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	st := &starling.Status{ID: starling.NewID(created), URI: "https://a.test/s/1", AccountID: author.ID,
		Content: "<p>v1</p>", Visibility: starling.VisibilityPublic, CreatedAt: created}
	insertRemote(t, s, st)
	t1 := created.Add(time.Minute)
	for _, tt := range []struct {
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
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.EditRemoteStatus(ctx, st.URI, tt.account, &starling.Status{Content: tt.content, EditedAt: tt.at,
				Hashtags: []string{"edited"}})
			if err != nil || got != tt.want {
				t.Errorf("edited %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	now, err := s.StatusByID(ctx, st.ID)
	if err != nil || now.Content != "<p>v3</p>" || !now.EditedAt.Equal(t1.Add(time.Second)) || !slices.Equal(now.Hashtags, []string{"edited"}) {
		t.Errorf("status after the edits: %+v, %v", now, err)
	}
	edits, err := s.StatusEdits(ctx, st.ID)
	var versions []string
	for _, e := range edits {
		versions = append(versions, e.Content)
	}
	if err != nil || !slices.Equal(versions, []string{"<p>v1</p>", "<p>v2</p>", "<p>v3</p>"}) || !edits[0].CreatedAt.Equal(created) {
		t.Errorf("history %v, %v", versions, err)
	}
}

// Lists is what testListsAndConversations exercises besides Store.
type Lists interface {
	CreateList(ctx context.Context, l *starling.List) error
	AddListAccounts(ctx context.Context, owner, listID int64, accounts []int64) error
	ListAccounts(ctx context.Context, listID int64, p starling.Page) ([]starling.ListedAccount, error)
	DeleteFollow(ctx context.Context, id int64, act *starling.Activity, events ...starling.Event) (bool, error)
	AddToConversations(ctx context.Context, statusID int64) (int64, error)
	Conversations(ctx context.Context, accountID int64, p starling.Page) ([]starling.Conversation, error)
}

// testListsAndConversations: a list holds only accounts its owner
// follows, so an unfollowed member leaves it; a direct conversation is one
// row per set of other participants, moved by a newer status only.
func testListsAndConversations(t *testing.T, s Store) {
	ctx := context.Background()
	alice, carol := MustAccount(t, s, "alice", ""), MustAccount(t, s, "carol", "")
	bob, dan := MustAccount(t, s, "bob", "b.test"), MustAccount(t, s, "dan", "d.test")
	toBob := mustFollow(t, s, alice, bob)
	mustFollow(t, s, alice, dan)
	l := &starling.List{AccountID: alice.ID, Title: "friends", RepliesPolicy: "list"}
	if err := s.CreateList(ctx, l); err != nil || l.ID == 0 {
		t.Fatalf("create list: %+v, %v", l, err)
	}
	if err := s.AddListAccounts(ctx, alice.ID, l.ID, []int64{bob.ID, carol.ID}); starling.ErrorCode(err) != starling.EINVALID {
		t.Errorf("adding carol, whom alice does not follow: %v, want EINVALID", err)
	}
	if err := s.AddListAccounts(ctx, alice.ID, l.ID, []int64{bob.ID, dan.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteFollow(ctx, toBob.ID, nil); err != nil {
		t.Fatal(err)
	}
	members, err := s.ListAccounts(ctx, l.ID, starling.Page{})
	if err != nil || len(members) != 1 || members[0].Account.ID != dan.ID {
		t.Errorf("after unfollowing bob: %+v, %v; want dan alone", members, err)
	}

	direct := func(n int, mentions ...int64) *starling.Status {
		st := remoteStatus(bob, n)
		st.Visibility = starling.VisibilityDirect
		insertRemote(t, s, st)
		if err := s.IndexStatus(ctx, st.ID, nil, mentions); err != nil {
			t.Fatal(err)
		}
		return st
	}
	first, second := direct(1, carol.ID, alice.ID), direct(2, alice.ID, carol.ID)
	for _, st := range []*starling.Status{second, first, second} { // the older one, and a replay, move nothing
		if _, err := s.AddToConversations(ctx, st.ID); err != nil {
			t.Fatal(err)
		}
	}
	convs, err := s.Conversations(ctx, alice.ID, starling.Page{Limit: 20})
	if err != nil || len(convs) != 1 || convs[0].LastStatusID != second.ID || !convs[0].Unread ||
		!slices.Equal(convs[0].Participants, []int64{min(bob.ID, carol.ID), max(bob.ID, carol.ID)}) {
		t.Errorf("alice's conversations: %+v, %v; want one, with bob and carol, at the second status, unread", convs, err)
	}
}
