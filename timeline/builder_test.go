package timeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/store/postgres"
	"github.com/starling-social/starling/store/postgres/pgtest"
	"github.com/starling-social/starling/timeline"
)

// world is a small social graph on a real database, with a builder that
// applies events directly (the queue is exercised end to end in
// cmd/starling).
type world struct {
	t        *testing.T
	db       *postgres.DB
	b        *timeline.Builder
	pub      *recorder
	accounts map[string]*starling.Account
	seq      int64
}

// recorder is a Publisher that keeps what the builder announced.
type recorder struct {
	mu   sync.Mutex
	msgs []queue.StreamMessage
}

func (r *recorder) PublishStream(data []byte) error {
	var m queue.StreamMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	return nil
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db := pgtest.NewDB(t)
	topo, _ := queue.NewTopology("")
	pub := &recorder{}
	return &world{t: t, db: db, pub: pub, accounts: map[string]*starling.Account{},
		b: &timeline.Builder{Store: db, Publisher: pub, Topology: topo, LocalDomain: "local.test",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
}

// account creates name, local when domain is empty.
func (w *world) account(name, domain string) *starling.Account {
	w.t.Helper()
	ctx := context.Background()
	host := "local.test"
	if domain != "" {
		host = domain
	}
	a := &starling.Account{Username: name, Domain: domain, URI: "https://" + host + "/users/" + name,
		URL: "https://" + host + "/@" + name, InboxURL: "https://" + host + "/users/" + name + "/inbox"}
	var err error
	if domain == "" {
		err = w.db.CreateLocalAccount(ctx, a, name+"@local.test", "x")
	} else {
		a, err = w.db.UpsertRemoteAccount(ctx, a)
	}
	if err != nil {
		w.t.Fatalf("create %s: %v", name, err)
	}
	w.accounts[name] = a
	return a
}

func (w *world) follow(follower, followee string) {
	w.t.Helper()
	f := &starling.Follow{ID: w.id(), FollowerID: w.accounts[follower].ID, FolloweeID: w.accounts[followee].ID,
		URI: fmt.Sprintf("https://local.test/follows/%d", w.seq), Accepted: true}
	if _, _, err := w.db.CreateFollow(context.Background(), f, nil); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) id() int64 {
	w.seq++
	return starling.NewID(time.Now()) + w.seq
}

// post stores a status by author and applies its created event.
func (w *world) post(author, visibility, content, replyTo string) *starling.Status {
	w.t.Helper()
	a := w.accounts[author]
	id := w.id()
	st := &starling.Status{ID: id, URI: fmt.Sprintf("%s/statuses/%d", a.URI, id), AccountID: a.ID, Local: a.Local(),
		Content: content, Visibility: visibility, InReplyToURI: replyTo, CreatedAt: time.Now()}
	if ok, err := w.db.InsertRemoteStatus(context.Background(), st); err != nil || !ok {
		w.t.Fatalf("insert status: %v %v", ok, err)
	}
	w.apply(queue.StatusCreated, queue.TimelineEvent{StatusID: id})
	return st
}

// boost stores booster's boost of st and applies its created event.
func (w *world) boost(booster string, st *starling.Status) *starling.Status {
	w.t.Helper()
	a := w.accounts[booster]
	id := w.id()
	boost := starling.NewReblog(id, fmt.Sprintf("%s/statuses/%d/activity", a.URI, id), a.ID, a.Local(), time.Now())
	got, created, err := w.db.CreateReblog(context.Background(), boost, st.ID, nil)
	if err != nil || !created {
		w.t.Fatalf("boost: %v %v", created, err)
	}
	w.apply(queue.StatusCreated, queue.TimelineEvent{StatusID: got.ID})
	return got
}

func (w *world) apply(kind string, ev any) {
	w.t.Helper()
	data, _ := json.Marshal(ev)
	if err := w.b.Apply(context.Background(), kind, data); err != nil {
		w.t.Fatalf("apply %s: %v", kind, err)
	}
}

func (w *world) inFeed(reader string, st *starling.Status) int {
	w.t.Helper()
	n, err := w.db.CountFeedEntries(context.Background(), w.accounts[reader].ID, st.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// social builds the graph the rule tests share: alice reads; she follows
// bob, dave (remote), mike (muted) and eve (on a domain she blocks); she
// does not follow carol; she blocks mallory.
func social(t *testing.T) *world {
	w := newWorld(t)
	for _, n := range []string{"alice", "bob", "carol", "mike", "mallory"} {
		w.account(n, "")
	}
	w.account("dave", "remote.test")
	w.account("eve", "blocked.test")
	for _, n := range []string{"bob", "dave", "mike", "eve", "mallory"} {
		w.follow("alice", n)
	}
	ctx := context.Background()
	alice := w.accounts["alice"].ID
	if _, err := w.db.CreateMute(ctx, alice, w.accounts["mike"].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.CreateDomainBlock(ctx, alice, "Blocked.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.CreateBlock(ctx, &starling.Block{AccountID: alice, TargetAccountID: w.accounts["mallory"].ID,
		URI: "https://local.test/blocks/1"}, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestHomeFeedInclusion(t *testing.T) {
	w := social(t)
	carols := w.post("carol", "public", "<p>carol speaks</p>", "")
	daves := w.post("dave", "public", "<p>dave speaks</p>", "")
	alices := w.post("alice", "public", "<p>alice speaks</p>", "")
	bobs := w.post("bob", "public", "<p>bob speaks</p>", "")
	mallorys := w.post("mallory", "public", "<p>mallory speaks</p>", "")
	carolsPrivate := w.post("carol", "private", "<p>for followers</p>", "")

	for _, tc := range []struct {
		name string
		make func() *starling.Status
		want int
	}{
		{"own post", func() *starling.Status { return w.post("alice", "private", "<p>mine</p>", "") }, 1},
		{"followed public", func() *starling.Status { return w.post("bob", "public", "<p>hi</p>", "") }, 1},
		{"followed unlisted", func() *starling.Status { return w.post("bob", "unlisted", "<p>hi</p>", "") }, 1},
		{"followed followers-only", func() *starling.Status { return w.post("bob", "private", "<p>hi</p>", "") }, 1},
		{"followed remote public", func() *starling.Status { return w.post("dave", "public", "<p>hi</p>", "") }, 1},
		{"direct to someone else", func() *starling.Status { return w.post("bob", "direct", "<p>@carol psst</p>", "") }, 0},
		{"direct to the reader", func() *starling.Status { return w.post("bob", "direct", "<p>@alice psst</p>", "") }, 1},
		{"direct to the reader, from a stranger", func() *starling.Status {
			return w.post("carol", "direct", "<p>@alice@local.test psst</p>", "")
		}, 1},
		{"not followed", func() *starling.Status { return w.post("carol", "public", "<p>hi</p>", "") }, 0},
		{"muted", func() *starling.Status { return w.post("mike", "public", "<p>hi</p>", "") }, 0},
		{"blocked domain", func() *starling.Status { return w.post("eve", "public", "<p>hi</p>", "") }, 0},
		{"reply to an account the reader does not follow", func() *starling.Status {
			return w.post("bob", "public", "<p>@carol yes</p>", carols.URI)
		}, 0},
		{"reply to an account the reader follows", func() *starling.Status {
			return w.post("bob", "public", "<p>@dave yes</p>", daves.URI)
		}, 1},
		{"reply to the reader", func() *starling.Status { return w.post("bob", "public", "<p>@alice yes</p>", alices.URI) }, 1},
		{"reply to oneself (a thread)", func() *starling.Status { return w.post("bob", "public", "<p>and</p>", bobs.URI) }, 1},
		{"reply to a status we do not know", func() *starling.Status {
			return w.post("bob", "public", "<p>yes</p>", "https://elsewhere.test/notes/1")
		}, 0},
		{"direct to the reader, in a thread we do not know", func() *starling.Status {
			// A message addressed to the reader is theirs, whatever it replies to.
			return w.post("bob", "direct", "<p>@alice psst</p>", "https://elsewhere.test/notes/2")
		}, 1},
		{"boost by a followed account", func() *starling.Status { return w.boost("bob", carols) }, 1},
		{"boost of a status already boosted into the feed", func() *starling.Status { return w.boost("dave", carols) }, 0},
		{"boost of a status already in the feed", func() *starling.Status { return w.boost("bob", daves) }, 0},
		{"boost of the reader's own status", func() *starling.Status { return w.boost("bob", alices) }, 0},
		{"boost of a blocked account's status", func() *starling.Status { return w.boost("bob", mallorys) }, 0},
		{"boost by a muted account", func() *starling.Status { return w.boost("mike", w.post("carol", "public", "<p>x</p>", "")) }, 0},
		{"boost of a followers-only status", func() *starling.Status { return w.boost("bob", carolsPrivate) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.make()
			if got := w.inFeed("alice", st); got != tc.want {
				t.Errorf("in alice's feed %d times, want %d", got, tc.want)
			}
		})
	}
	// A blocked account's own posts never reach the blocker, even if a
	// follow were left behind; the author's own feed always has them.
	if n := w.inFeed("alice", mallorys); n != 0 {
		t.Errorf("blocked account's post in the blocker's feed %d times", n)
	}
	if n := w.inFeed("mallory", mallorys); n != 1 {
		t.Errorf("mallory's post in her own feed %d times, want 1", n)
	}
}

func TestHomeFeedRemoval(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// act removes something; gone and kept are checked in alice's feed.
		act        func(w *world, sts map[string]*starling.Status)
		gone, kept []string
	}{
		{"delete of a status takes its boosts too", func(w *world, sts map[string]*starling.Status) {
			mustTombstone(t, w, sts["carols"])
			w.apply(queue.StatusDeleted, queue.TimelineEvent{StatusID: sts["carols"].ID})
		}, []string{"carols", "bobsBoost"}, []string{"bobs", "daves"}},
		{"undo of a boost", func(w *world, sts map[string]*starling.Status) {
			if ok, err := w.db.DeleteReblog(ctx, sts["bobsBoost"].ID, w.accounts["bob"].ID, nil); err != nil || !ok {
				t.Fatalf("delete reblog: %v %v", ok, err)
			}
			w.apply(queue.StatusDeleted, queue.TimelineEvent{StatusID: sts["bobsBoost"].ID})
		}, []string{"bobsBoost"}, []string{"bobs", "daves"}},
		{"unfollow", func(w *world, sts map[string]*starling.Status) {
			w.apply(queue.FeedUnmerge, queue.TimelineChange{AccountID: w.accounts["alice"].ID, TargetAccountID: w.accounts["bob"].ID})
		}, []string{"bobs", "bobsBoost"}, []string{"daves"}},
		{"block or mute also takes others' boosts of the account", func(w *world, sts map[string]*starling.Status) {
			w.apply(queue.FeedUnmerge, queue.TimelineChange{AccountID: w.accounts["alice"].ID,
				TargetAccountID: w.accounts["carol"].ID, Reblogs: true})
		}, []string{"bobsBoost"}, []string{"bobs", "daves"}},
		{"domain block", func(w *world, sts map[string]*starling.Status) {
			w.apply(queue.FeedUnmerge, queue.TimelineChange{AccountID: w.accounts["alice"].ID, Domain: "remote.test", Reblogs: true})
		}, []string{"daves"}, []string{"bobs", "bobsBoost"}},
		{"account deleted", func(w *world, sts map[string]*starling.Status) {
			if _, err := w.db.DeleteRemoteAccount(ctx, w.accounts["dave"].URI, func(int64) ([]starling.Event, error) { return nil, nil }); err != nil {
				t.Fatal(err)
			}
			w.apply(queue.AccountDeleted, queue.TimelineChange{AccountID: w.accounts["dave"].ID})
			if items := w.read("alice"); slices.Contains(items, sts["daves"].ID) {
				t.Error("a deleted account's status is still read from the feed")
			}
			// The trimmer's sweep removes the rows.
			tr := &timeline.Trimmer{Store: w.db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if _, err := tr.Sweep(ctx, starling.DefaultFeedCap, 100); err != nil {
				t.Fatal(err)
			}
		}, []string{"daves"}, []string{"bobs", "bobsBoost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			for _, n := range []string{"alice", "bob", "carol"} {
				w.account(n, "")
			}
			w.account("dave", "remote.test")
			w.follow("alice", "bob")
			w.follow("alice", "dave")
			carols := w.post("carol", "public", "<p>c</p>", "")
			sts := map[string]*starling.Status{
				"carols":    carols,
				"bobs":      w.post("bob", "public", "<p>b</p>", ""),
				"bobsBoost": w.boost("bob", carols),
				"daves":     w.post("dave", "public", "<p>d</p>", ""),
			}
			for name, st := range sts {
				if name != "carols" && w.inFeed("alice", st) != 1 {
					t.Fatalf("%s not in the feed to begin with", name)
				}
			}
			tc.act(w, sts)
			for _, name := range tc.gone {
				if n := w.inFeed("alice", sts[name]); n != 0 {
					t.Errorf("%s still in the feed", name)
				}
			}
			for _, name := range tc.kept {
				if n := w.inFeed("alice", sts[name]); n != 1 {
					t.Errorf("%s left the feed", name)
				}
			}
		})
	}
}

// read returns the status ids of reader's home timeline as the API reads
// it: the feed's ids, then the live statuses among them.
func (w *world) read(reader string) []int64 {
	w.t.Helper()
	ctx := context.Background()
	refs, err := w.db.HomeFeedRefs(ctx, w.accounts[reader].ID, starling.Page{Limit: 40})
	if err != nil {
		w.t.Fatal(err)
	}
	var ids []int64
	for _, r := range refs {
		ids = append(ids, r.ID)
	}
	live, err := w.db.StatusesByIDs(ctx, ids)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []int64
	for _, id := range ids {
		if live[id] != nil {
			out = append(out, id)
		}
	}
	return out
}

func mustTombstone(t *testing.T, w *world, st *starling.Status) {
	t.Helper()
	if _, err := w.db.Pool().Exec(context.Background(), `UPDATE statuses SET deleted_at = now() WHERE id = $1`, st.ID); err != nil {
		t.Fatal(err)
	}
}

// TestReplayAddsNothing: a status stored twice (a second delivery) and its
// event applied again add one feed row, one tag, one notification.
func TestReplayAddsNothing(t *testing.T) {
	w := newWorld(t)
	w.account("alice", "")
	w.account("bob", "")
	w.follow("alice", "bob")
	st := w.post("bob", "public", "<p>@alice look: #Replays</p>", "")
	if ok, err := w.db.InsertRemoteStatus(context.Background(), st); err != nil || ok {
		t.Fatalf("second insert of the same status: inserted %v, %v", ok, err)
	}
	for range 3 {
		w.apply(queue.StatusCreated, queue.TimelineEvent{StatusID: st.ID})
	}
	if n := w.inFeed("alice", st); n != 1 {
		t.Errorf("in alice's feed %d times, want 1", n)
	}
	if n := w.inFeed("bob", st); n != 1 {
		t.Errorf("in bob's feed %d times, want 1", n)
	}
	ns, err := w.db.Notifications(context.Background(), w.accounts["alice"].ID, starling.Page{Limit: 40}, starling.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Type != starling.NotifyMention {
		t.Errorf("alice has %d notifications, want one mention", len(ns))
	}
	tagged, err := w.db.TagTimeline(context.Background(), "replays", false, starling.Page{Limit: 40})
	if err != nil {
		t.Fatal(err)
	}
	if len(tagged) != 1 {
		t.Errorf("tag timeline holds %d statuses, want 1", len(tagged))
	}
}

func TestNotifications(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	for _, n := range []string{"alice", "bob", "mike"} {
		w.account(n, "")
	}
	w.account("dave", "remote.test")
	alice := w.accounts["alice"].ID
	if _, err := w.db.CreateMute(ctx, alice, w.accounts["mike"].ID); err != nil {
		t.Fatal(err)
	}
	alices := w.post("alice", "public", "<p>hello</p>", "")
	w.post("bob", "public", "<p>hey @alice</p>", "")
	w.post("dave", "public", `<p><span class="h-card"><a href="https://local.test/@alice" class="u-url mention">@<span>alice</span></a></span> hi</p>`, "")
	w.post("dave", "public", `<p>@bob is not ours to read as local</p>`, "")
	w.post("mike", "public", "<p>@alice muted</p>", "")
	w.boost("bob", alices)
	for _, kind := range []string{starling.NotifyFavourite, starling.NotifyFavourite, starling.NotifyFollow} {
		ch := queue.TimelineChange{AccountID: alice, Type: kind, FromAccountID: w.accounts["dave"].ID}
		if kind == starling.NotifyFavourite {
			ch.StatusID = alices.ID
		}
		w.apply(queue.Notify, ch)
	}
	ns, err := w.db.Notifications(ctx, alice, starling.Page{Limit: 40}, starling.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, n := range ns {
		got[n.Type+" from "+n.From.Username]++
	}
	want := map[string]int{"mention from bob": 1, "mention from dave": 1, "reblog from bob": 1,
		"favourite from dave": 1, "follow from dave": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("notifications %v, want %v", got, want)
	}
	bobs, _ := w.db.Notifications(ctx, w.accounts["bob"].ID, starling.Page{Limit: 40}, starling.NotificationFilter{})
	if len(bobs) != 0 {
		t.Errorf("bob has %d notifications; a remote @bob is not him", len(bobs))
	}
	only, _ := w.db.Notifications(ctx, alice, starling.Page{Limit: 40}, starling.NotificationFilter{Types: []string{"mention"}})
	excl, _ := w.db.Notifications(ctx, alice, starling.Page{Limit: 40}, starling.NotificationFilter{ExcludeTypes: []string{"mention"}})
	if len(only) != 2 || len(excl) != 3 {
		t.Errorf("types=mention gave %d, exclude_types=mention %d; want 2 and 3", len(only), len(excl))
	}
	// Every new notification was announced once for streaming.
	n := 0
	for _, m := range w.pub.msgs {
		if m.Event == "notification" {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d notification events published, want 5", n)
	}
}

func TestTrimKeepsNewest(t *testing.T) {
	w := newWorld(t)
	w.account("alice", "")
	w.account("bob", "")
	var posts []*starling.Status
	for range 12 {
		posts = append(posts, w.post("alice", "public", "<p>x</p>", ""))
	}
	w.post("bob", "public", "<p>x</p>", "")
	tr := &timeline.Trimmer{Store: w.db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n, err := tr.Sweep(context.Background(), 5, 1) // batches of one account: the cursor must carry on
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Errorf("trimmed %d rows, want 7", n)
	}
	for i, st := range posts {
		want := 0
		if i >= 7 {
			want = 1
		}
		if got := w.inFeed("alice", st); got != want {
			t.Errorf("post %d: in feed %d times, want %d", i, got, want)
		}
	}
}

func TestPublicAndTagTimelines(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.account("alice", "")
	w.account("dave", "remote.test")
	w.account("carol", "")
	w.account("mute", "")
	if _, err := w.db.CreateDomainBlock(ctx, w.accounts["carol"].ID, "remote.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.CreateMute(ctx, w.accounts["mute"].ID, w.accounts["alice"].ID); err != nil {
		t.Fatal(err)
	}
	local := w.post("alice", "public", "<p>#Go and #golang</p>", "")
	remote := w.post("dave", "public", `<p><a href="https://remote.test/tags/go" class="mention hashtag" rel="tag">#<span>go</span></a></p>`, "")
	w.post("alice", "unlisted", "<p>#go quietly</p>", "")
	w.boost("alice", remote)
	for _, tc := range []struct {
		name string
		read func() ([]*starling.Item, error)
		want []int64
	}{
		{"federated", func() ([]*starling.Item, error) {
			return w.db.PublicTimeline(ctx, false, false, starling.Page{Limit: 40})
		}, []int64{remote.ID, local.ID}},
		{"local", func() ([]*starling.Item, error) {
			return w.db.PublicTimeline(ctx, true, false, starling.Page{Limit: 40})
		}, []int64{local.ID}},
		{"remote", func() ([]*starling.Item, error) {
			return w.db.PublicTimeline(ctx, false, true, starling.Page{Limit: 40})
		}, []int64{remote.ID}},
		{"tag", func() ([]*starling.Item, error) { return w.db.TagTimeline(ctx, "go", false, starling.Page{Limit: 40}) }, []int64{remote.ID, local.ID}},
		{"local tag", func() ([]*starling.Item, error) { return w.db.TagTimeline(ctx, "go", true, starling.Page{Limit: 40}) }, []int64{local.ID}},
		{"other tag", func() ([]*starling.Item, error) {
			return w.db.TagTimeline(ctx, "golang", false, starling.Page{Limit: 40})
		}, []int64{local.ID}},
		{"federated, for a viewer who blocks the remote domain", func() ([]*starling.Item, error) {
			return w.db.PublicTimeline(starling.WithViewer(ctx, w.accounts["carol"].ID), false, false, starling.Page{Limit: 40})
		}, []int64{local.ID}},
		{"tag, for a viewer who mutes the local author", func() ([]*starling.Item, error) {
			return w.db.TagTimeline(starling.WithViewer(ctx, w.accounts["mute"].ID), "go", false, starling.Page{Limit: 40})
		}, []int64{remote.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := tc.read()
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, it := range items {
				got = append(got, it.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRemoteTagsFromTagProperty: a remote status's mentions and hashtags
// are those of its tag property, as the inbox stored them, even when its
// HTML has no mention link or "#tag" text (Misskey's plain @name, Lemmy's
// markdown, a hashtag only in tag).
func TestRemoteTagsFromTagProperty(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	alice := w.account("alice", "")
	w.account("dave", "remote.test")
	dave := w.accounts["dave"]
	id := w.id()
	st := &starling.Status{ID: id, URI: fmt.Sprintf("%s/statuses/%d", dave.URI, id), AccountID: dave.ID,
		Content: "<p>hello there</p>", Visibility: starling.VisibilityPublic, CreatedAt: time.Now(),
		Mentions: []string{alice.URI}, Hashtags: []string{"fediverse"}}
	if ok, err := w.db.InsertRemoteStatus(ctx, st); err != nil || !ok {
		t.Fatalf("insert status: %v %v", ok, err)
	}
	w.apply(queue.StatusCreated, queue.TimelineEvent{StatusID: id})

	ns, err := w.db.Notifications(ctx, alice.ID, starling.Page{Limit: 40}, starling.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Type != starling.NotifyMention || ns[0].From.ID != dave.ID {
		t.Errorf("alice has %d notifications (%+v), want one mention from dave", len(ns), ns)
	}
	items, err := w.db.TagTimeline(ctx, "fediverse", false, starling.Page{Limit: 40})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].ID != id {
		t.Errorf("tag timeline #fediverse has %d items, want the status", len(items))
	}
}
