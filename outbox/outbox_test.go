package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/outbox"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/store/postgres"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

const localHost = "local.test"

// recorder is the real store, remembering the activities the outbox
// stores (and a new status's events), so a test can read them as they
// were committed.
type recorder struct {
	*postgres.DB
	acts   []*starling.Activity
	events [][]starling.Event
}

func (r *recorder) CreateLocalStatus(ctx context.Context, s *starling.Status, act *starling.Activity, events ...starling.Event) error {
	r.acts, r.events = append(r.acts, act), append(r.events, events)
	return r.DB.CreateLocalStatus(ctx, s, act, events...)
}

// webfinger stands for the resolver: it knows the accounts it was given
// and stores them on first use, as the resolver does.
type webfinger struct {
	db    *postgres.DB
	known map[string]*starling.Account // "user@host"
	asked []string
}

func (w *webfinger) WebFinger(ctx context.Context, username, host string) (*starling.Account, error) {
	w.asked = append(w.asked, username+"@"+host)
	a, ok := w.known[username+"@"+host]
	if !ok {
		return nil, fmt.Errorf("webfinger %s@%s: %w", username, host, starling.ErrNotFound)
	}
	return w.db.UpsertRemoteAccount(ctx, a)
}

type rig struct {
	db              *postgres.DB
	rec             *recorder
	ob              *outbox.Outbox
	wf              *webfinger
	alice, bob      *starling.Account // local
	remote, farAway *starling.Account // remote: remote is stored, farAway only known to WebFinger
	otherBob        *starling.Account // remote, same username as bob
	site            federation.Site
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	site := federation.Site{Scheme: "https", Host: localHost}
	r := &rig{db: db, rec: &recorder{DB: db}, site: site}
	local := func(name string) *starling.Account {
		a := site.NewLocalAccount(name, "pem", "key")
		if err := db.CreateLocalAccount(ctx, a, name+"@mail.test", "hash"); err != nil {
			t.Fatal(err)
		}
		return a
	}
	remote := func(name, host string) *starling.Account {
		uri := "https://" + host + "/users/" + name
		return &starling.Account{Username: name, Domain: host, URI: uri, URL: "https://" + host + "/@" + name,
			InboxURL: uri + "/inbox", SharedInboxURL: "https://" + host + "/inbox", PublicKeyPEM: "pem"}
	}
	r.alice, r.bob = local("alice"), local("bob")
	var err error
	if r.remote, err = db.UpsertRemoteAccount(ctx, remote("rem", "remote.test")); err != nil {
		t.Fatal(err)
	}
	r.farAway = remote("far", "far.test")
	r.otherBob = remote("bob", "b.test")
	r.wf = &webfinger{db: db, known: map[string]*starling.Account{"far@far.test": r.farAway, "bob@b.test": r.otherBob,
		"rem@remote.test": r.remote}}
	topo, err := queue.NewTopology("starling")
	if err != nil {
		t.Fatal(err)
	}
	r.ob = &outbox.Outbox{Store: r.rec, Site: site, Topology: topo, Accounts: r.wf}
	return r
}

// create posts and returns the status with its Create and outbox event.
func (r *rig) create(t *testing.T, author *starling.Account, p outbox.NewStatus) (*starling.Status, map[string]any, queue.OutboxEvent) {
	t.Helper()
	st, err := r.ob.CreateStatus(context.Background(), author, p)
	if err != nil {
		t.Fatalf("create %q: %v", p.Text, err)
	}
	act := r.rec.acts[len(r.rec.acts)-1]
	var doc map[string]any
	if err := json.Unmarshal(act.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	var ev queue.OutboxEvent
	if err := json.Unmarshal(r.rec.events[len(r.rec.events)-1][0].Payload, &ev); err != nil {
		t.Fatal(err)
	}
	return st, doc, ev
}

func TestComposeText(t *testing.T) {
	r := newRig(t)
	link := func(href, shown string) string {
		return `<span class="h-card" translate="no"><a href="` + href + `" class="u-url mention">@<span>` + shown + `</span></a></span>`
	}
	tests := []struct {
		name, text, want string
		mentions         []string // Mention tag names
		tags             []string // Hashtag tag names
	}{
		{"plain text is escaped", "a <b> & c", "<p>a &lt;b&gt; &amp; c</p>", nil, nil},
		{"paragraphs and lines", "one\ntwo\n\nthree", "<p>one<br />two</p><p>three</p>", nil, nil},
		{"local mention", "hi @alice!", "<p>hi " + link("https://local.test/@alice", "alice") + "!</p>",
			[]string{"@alice@local.test"}, nil},
		{"local mention with our host", "@alice@LOCAL.test", "<p>" + link("https://local.test/@alice", "alice") + "</p>",
			[]string{"@alice@local.test"}, nil},
		{"stored remote mention", "@rem@remote.test yo", "<p>" + link("https://remote.test/@rem", "rem") + " yo</p>",
			[]string{"@rem@remote.test"}, nil},
		{"mention found by WebFinger", "cc @far@far.test", "<p>cc " + link("https://far.test/@far", "far") + "</p>",
			[]string{"@far@far.test"}, nil},
		{"unknown mention stays text", "@nobody and @ghost@nowhere.test", "<p>@nobody and @ghost@nowhere.test</p>", nil, nil},
		{"same username twice shows accts", "@bob @bob@b.test",
			"<p>" + link("https://local.test/@bob", "bob@local.test") + " " + link("https://b.test/@bob", "bob@b.test") + "</p>",
			[]string{"@bob@local.test", "@bob@b.test"}, nil},
		{"mentioned twice, tagged once", "@alice @alice", "<p>" + link("https://local.test/@alice", "alice") + " " +
			link("https://local.test/@alice", "alice") + "</p>", []string{"@alice@local.test"}, nil},
		{"an email address is no mention", "mail me@alice.test", "<p>mail me@alice.test</p>", nil, nil},
		{"hashtag", "so #Go, much #go #日本語",
			`<p>so <a href="https://local.test/tags/Go" class="mention hashtag" rel="tag">#<span>Go</span></a>, much ` +
				`<a href="https://local.test/tags/go" class="mention hashtag" rel="tag">#<span>go</span></a> ` +
				`<a href="https://local.test/tags/%E6%97%A5%E6%9C%AC%E8%AA%9E" class="mention hashtag" rel="tag">#<span>日本語</span></a></p>`,
			nil, []string{"#Go", "#日本語"}},
		{"numbers alone are no hashtag", "#123 and a#b", "<p>#123 and a#b</p>", nil, nil},
		{"link", "see https://example.com/a?b=1&c=2",
			`<p>see <a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="nofollow noopener" translate="no">` +
				`<span class="invisible">https://</span><span class="">example.com/a?b=1&amp;c=2</span><span class="invisible"></span></a></p>`,
			nil, nil},
		{"long link is shortened, its fragment is no hashtag", "https://www.example.com/a/very/long/path/indeed/yes#frag",
			`<p><a href="https://www.example.com/a/very/long/path/indeed/yes#frag" target="_blank" rel="nofollow noopener" translate="no">` +
				`<span class="invisible">https://www.</span><span class="ellipsis">example.com/a/very/long/path/i</span>` +
				`<span class="invisible">ndeed/yes#frag</span></a></p>`, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, doc, _ := r.create(t, r.bob, outbox.NewStatus{Text: tt.text})
			if st.Content != tt.want {
				t.Errorf("content\n got %s\nwant %s", st.Content, tt.want)
			}
			obj := doc["object"].(map[string]any)
			if obj["content"] != tt.want {
				t.Errorf("Note content %v", obj["content"])
			}
			var mentions, tags []string
			tagList, _ := obj["tag"].([]any)
			for _, x := range tagList {
				tag := x.(map[string]any)
				switch tag["type"] {
				case "Mention":
					mentions = append(mentions, tag["name"].(string))
					if href, _ := tag["href"].(string); href == "" {
						t.Errorf("Mention without href: %v", tag)
					}
				case "Hashtag":
					tags = append(tags, tag["name"].(string))
					if href, _ := tag["href"].(string); href == "" {
						t.Errorf("Hashtag without href: %v", tag)
					}
				default:
					t.Errorf("tag %v", tag)
				}
			}
			if !slices.Equal(mentions, tt.mentions) || !slices.Equal(tags, tt.tags) {
				t.Errorf("mentions %q tags %q, want %q %q", mentions, tags, tt.mentions, tt.tags)
			}
		})
	}
}

// TestAddressing holds each visibility to Mastodon's to/cc, and checks who
// the outbox event sends to.
func TestAddressing(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	followers := r.alice.FollowersURL
	remoteURI := r.remote.URI
	public := activitypub.Public
	parent, err := r.ob.CreateStatus(ctx, r.bob, outbox.NewStatus{Text: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	remoteParent := &starling.Status{ID: starling.NewID(time.Now()), URI: "https://remote.test/s/1", AccountID: r.remote.ID,
		Visibility: starling.VisibilityPublic, Content: "hello", CreatedAt: time.Now()}
	if _, err := r.db.InsertRemoteStatus(ctx, remoteParent); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		p             outbox.NewStatus
		to, cc        []string
		followers     bool
		accounts      []int64
		inReplyTo     string
		wantMentioned []int64
	}{
		{"public", outbox.NewStatus{Text: "hi"}, []string{public}, []string{followers}, true, nil, "", nil},
		{"public mention", outbox.NewStatus{Text: "hi @rem@remote.test"}, []string{public}, []string{followers, remoteURI}, true,
			[]int64{r.remote.ID}, "", []int64{r.remote.ID}},
		{"unlisted mention", outbox.NewStatus{Text: "hi @rem@remote.test", Visibility: "unlisted"},
			[]string{followers}, []string{public, remoteURI}, true, []int64{r.remote.ID}, "", nil},
		{"private mention", outbox.NewStatus{Text: "hi @rem@remote.test", Visibility: "private"},
			[]string{followers}, []string{remoteURI}, true, []int64{r.remote.ID}, "", nil},
		{"private", outbox.NewStatus{Text: "hi", Visibility: "private"}, []string{followers}, nil, true, nil, "", nil},
		{"direct", outbox.NewStatus{Text: "psst @rem@remote.test @bob", Visibility: "direct"},
			[]string{remoteURI, r.bob.URI}, nil, false, []int64{r.remote.ID, r.bob.ID}, "", nil},
		{"public reply to a remote status", outbox.NewStatus{Text: "re", InReplyToID: remoteParent.ID},
			[]string{public}, []string{followers, remoteURI}, true, []int64{r.remote.ID}, remoteParent.URI, nil},
		{"public reply to a local status", outbox.NewStatus{Text: "re", InReplyToID: parent.ID},
			[]string{public}, []string{followers, r.bob.URI}, true, []int64{r.bob.ID}, parent.URI, nil},
		{"direct reply reaches only the mentioned", outbox.NewStatus{Text: "@bob re", InReplyToID: remoteParent.ID, Visibility: "direct"},
			[]string{r.bob.URI}, nil, false, []int64{r.bob.ID}, remoteParent.URI, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, doc, ev := r.create(t, r.alice, tt.p)
			obj := doc["object"].(map[string]any)
			for _, d := range []map[string]any{doc, obj} {
				if got := strs(d["to"]); !slices.Equal(got, tt.to) {
					t.Errorf("%s to %q, want %q", d["type"], got, tt.to)
				}
				if got := strs(d["cc"]); !slices.Equal(got, tt.cc) {
					t.Errorf("%s cc %q, want %q", d["type"], got, tt.cc)
				}
			}
			if got, _ := obj["inReplyTo"].(string); got != tt.inReplyTo {
				t.Errorf("inReplyTo %q, want %q", got, tt.inReplyTo)
			}
			if _, ok := obj["inReplyTo"]; !ok && tt.inReplyTo != "" || ok && tt.inReplyTo == "" {
				t.Errorf("inReplyTo present: %v", ok)
			}
			if ev.Followers != tt.followers || !slices.Equal(ev.AccountIDs, tt.accounts) {
				t.Errorf("outbox event %+v, want followers %v accounts %v", ev, tt.followers, tt.accounts)
			}
			if tt.wantMentioned != nil {
				got, err := r.db.StatusMentionIDs(ctx, st.ID)
				if err != nil || !slices.Equal(got, tt.wantMentioned) {
					t.Errorf("status_mentions %v %v, want %v", got, err, tt.wantMentioned)
				}
			}
		})
	}
}

func TestReplyToInvisibleStatus(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	priv, err := r.ob.CreateStatus(ctx, r.bob, outbox.NewStatus{Text: "followers only", Visibility: "private"})
	if err != nil {
		t.Fatal(err)
	}
	dm, err := r.ob.CreateStatus(ctx, r.bob, outbox.NewStatus{Text: "@alice secret", Visibility: "direct"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		author  *starling.Account
		replyTo int64
		wantErr error
	}{
		{"unknown", r.alice, 12345, starling.ErrNotFound},
		{"private, not a follower", r.alice, priv.ID, starling.ErrNotFound},
		{"private, own", r.bob, priv.ID, nil},
		{"direct, mentioned", r.alice, dm.ID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.ob.CreateStatus(ctx, tt.author, outbox.NewStatus{Text: "re", InReplyToID: tt.replyTo})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	r := newRig(t)
	long := "https://example.com/" + strings.Repeat("a", 600)
	tests := []struct {
		name          string
		text, spoiler string
		want          error
	}{
		{"NUL", "nul\x00", "", outbox.ErrInvalidText},
		{"invalid UTF-8", "bad \xff utf-8", "", outbox.ErrInvalidText},
		{"NUL in the content warning", "hi", "\x00", outbox.ErrInvalidText},
		{"blank", " \n ", "", outbox.ErrEmptyStatus},
		{"500 characters", strings.Repeat("é", 500), "", nil},
		{"501 characters", strings.Repeat("é", 501), "", outbox.ErrStatusTooLong},
		{"the content warning counts", strings.Repeat("x", 490), strings.Repeat("y", 11), outbox.ErrStatusTooLong},
		{"a long link counts 23", long + " " + strings.Repeat("x", 476), "", nil},
		{"a remote mention counts its username", "@rem@remote.test " + strings.Repeat("x", 495), "", nil},
		{"a local mention counts whole", "@alice " + strings.Repeat("x", 494), "", outbox.ErrStatusTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.ob.CreateStatus(context.Background(), r.alice, outbox.NewStatus{Text: tt.text, SpoilerText: tt.spoiler})
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func strs(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
