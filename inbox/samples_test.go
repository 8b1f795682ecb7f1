package inbox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/inbox"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/sanitize"
	"github.com/starling-social/starling/signature"
	"github.com/starling-social/starling/store/postgres"
	"github.com/starling-social/starling/store/postgres/pgtest"
	"github.com/starling-social/starling/timeline"
)

const samplesDir = "testdata/activitypub-samples"

// sample is one entry of testdata/activitypub-samples/manifest.json.
type sample struct {
	File         string   `json:"file"`
	EmittedBy    string   `json:"emitted_by"`
	Type         *string  `json:"type"`
	ObjectType   *string  `json:"object_type"`
	Features     []string `json:"features"`
	NegativeTest bool     `json:"negative_test"`
	Note         string   `json:"note"`
}

func (s sample) typ() string {
	if s.Type == nil {
		return ""
	}
	return *s.Type
}

func (s sample) has(feature string) bool { return slices.Contains(s.Features, feature) }

// recordingAccepter stands in for the outbox, which inbox may not import:
// it records which follows the processor asked to accept.
type recordingAccepter struct {
	mu       sync.Mutex
	accepted []string // follow URIs
}

func (a *recordingAccepter) AcceptFollow(ctx context.Context, followee, follower *starling.Account, f *starling.Follow) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.accepted = append(a.accepted, f.URI)
	return nil
}

// samplesRig is the inbox's processing path over a real database: the HTTP
// handler (signature verification with keys from the store, decoding,
// storing) and the processor, with the resolver reading actors from the
// store. Every sample's actor is seeded as a remote account whose key the
// rig signs with.
type samplesRig struct {
	db        *postgres.DB
	handler   *inbox.Handler
	processor *inbox.Processor
	builder   *timeline.Builder
	accepter  *recordingAccepter
	srv       *httptest.Server
	api       *httptest.Server // the Mastodon API over the same database
	keyPEM    string
	key       any
	seeded    int
	origin    *origin // what remote servers serve to the resolver's fetches
}

// origin stands in for remote servers: it serves documents by URL to the
// resolver (so fetches go through its real, signed Get) and answers 404
// for anything else, as a server that does not have it would.
type origin struct {
	mu      sync.Mutex
	docs    map[string][]byte
	status  map[string]int // a status to answer instead of a document
	fetched []string
	signed  bool          // every fetch carried a Signature
	delay   time.Duration // before every answer: a slow origin
}

func (o *origin) serve(url string, doc []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.docs[url] = doc
}

func (o *origin) fail(url string, status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.status[url] = status
}

func (o *origin) fetches(url string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, f := range o.fetched {
		if f == url {
			n++
		}
	}
	return n
}

func (o *origin) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.docs, o.status, o.fetched, o.signed, o.delay = map[string][]byte{}, map[string]int{}, nil, true, 0
}

func (o *origin) RoundTrip(r *http.Request) (*http.Response, error) {
	o.mu.Lock()
	delay := o.delay
	o.mu.Unlock()
	time.Sleep(delay)
	o.mu.Lock()
	defer o.mu.Unlock()
	u := r.URL.String()
	o.fetched = append(o.fetched, u)
	if r.Header.Get("Signature") == "" && r.Header.Get("Signature-Input") == "" {
		o.signed = false
	}
	status, doc := http.StatusNotFound, []byte(`{"error":"not found"}`)
	if d, ok := o.docs[u]; ok {
		status, doc = http.StatusOK, d
	}
	if st, ok := o.status[u]; ok {
		status = st
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {activitypub.ContentType}},
		Body: io.NopCloser(bytes.NewReader(doc)), Request: r}, nil
}

func newSamplesRig(t *testing.T) *samplesRig {
	t.Helper()
	db := pgtest.NewDB(t)
	pub, priv, err := signature.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := signature.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	top, err := queue.NewTopology("")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	org := &origin{}
	org.reset()
	site := federation.Site{Scheme: "https", Host: "starling.test"}
	resolver := &federation.Resolver{
		Store:  db,
		Client: &http.Client{Transport: org},
		Site:   site,
		Scheme: "https",
		MaxAge: 1000 * time.Hour,
		SignAs: func(context.Context) (federation.Keys, error) {
			return federation.Keys{KeyID: "https://starling.test/actor#main-key", Key: key}, nil
		},
	}
	rig := &samplesRig{db: db, keyPEM: pub, key: key, accepter: &recordingAccepter{}, origin: org}
	rig.handler = &inbox.Handler{Store: db, Keys: resolver.KeyLookup, Proofs: resolver.Ed25519Key, Topology: top, Logger: logger}
	rig.processor = &inbox.Processor{Store: db, Actors: resolver, Accepter: rig.accepter, Topology: top, Logger: logger,
		Fetcher: resolver, Sanitizer: sanitize.New()}
	rig.builder = &timeline.Builder{Store: db, Topology: top, LocalDomain: site.Host, Logger: logger}
	rig.srv = httptest.NewServer(rig.handler)
	t.Cleanup(rig.srv.Close)
	apiSrv := &api.Server{Store: db, Site: site, Logger: logger}
	rig.api = httptest.NewServer(apiSrv.Handler())
	t.Cleanup(rig.api.Close)
	return rig
}

// reset empties every table the samples touch; a fresh database per sample
// would cost a migration each.
func (rig *samplesRig) reset(t *testing.T) {
	t.Helper()
	if _, err := rig.db.Pool().Exec(t.Context(),
		`TRUNCATE accounts, statuses, follows, inbox_activities, events, home_feed, access_tokens, notifications CASCADE`); err != nil {
		t.Fatal(err)
	}
	rig.accepter.accepted = nil
	rig.origin.reset()
}

// seedRemote stores the remote actor uri with the rig's key, unless it is
// already there.
func (rig *samplesRig) seedRemote(t *testing.T, uri string) *starling.Account {
	t.Helper()
	if a, err := rig.db.AccountByURI(t.Context(), uri); err == nil {
		return a
	}
	host, err := activitypub.HostOf(uri)
	if err != nil {
		t.Fatalf("actor %q: %v", uri, err)
	}
	rig.seeded++
	a, err := rig.db.UpsertRemoteAccount(t.Context(), &starling.Account{
		Username: fmt.Sprintf("remote%d", rig.seeded), Domain: host, URI: uri, URL: uri,
		InboxURL: uri + "/inbox", FollowersURL: uri + "/followers",
		KeyID: uri + "#main-key", PublicKeyPEM: rig.keyPEM,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// seedLocal stores a local account whose id is uri, as if this server were
// the sample's addressee.
func (rig *samplesRig) seedLocal(t *testing.T, uri string) *starling.Account {
	t.Helper()
	if a, err := rig.db.AccountByURI(t.Context(), uri); err == nil {
		return a
	}
	rig.seeded++
	a := &starling.Account{Username: fmt.Sprintf("local%d", rig.seeded), URI: uri, URL: uri, InboxURL: uri + "/inbox"}
	if err := rig.db.CreateLocalAccount(t.Context(), a, "", ""); err != nil {
		t.Fatal(err)
	}
	return a
}

// deliver POSTs body, signed as actor, and returns the status and body of
// the answer.
func (rig *samplesRig) deliver(t *testing.T, actor string, body []byte) (int, string) {
	t.Helper()
	resp, msg := rig.send(t, actor, body)
	return resp.StatusCode, msg
}

// send is deliver with the whole answer (its body read and closed).
func (rig *samplesRig) send(t *testing.T, actor string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rig.srv.URL+"/inbox", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", activitypub.ContentType)
	if err := signature.SignRequest(req, actor+"#main-key", rig.key, body, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp, string(msg)
}

// process runs the processor on the stored activity uri, as the inbox
// stream's consumer would.
func (rig *samplesRig) process(t *testing.T, uri string) error {
	t.Helper()
	id, err := rig.db.InboxActivityIDByURI(t.Context(), uri)
	if err != nil {
		t.Fatalf("activity was not stored: %v", err)
	}
	if err := rig.processor.Process(t.Context(), id); err != nil {
		return err
	}
	stored, err := rig.db.InboxActivityByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.ProcessedAt.IsZero() {
		t.Error("activity is not marked processed")
	}
	return nil
}

func loadManifest(t *testing.T) []sample {
	t.Helper()
	data, err := os.ReadFile(samplesDir + "/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var samples []sample
	if err := json.Unmarshal(data, &samples); err != nil {
		t.Fatal(err)
	}
	if len(samples) == 0 {
		t.Fatal("empty manifest")
	}
	return samples
}

var (
	actorTypes      = []string{"Person", "Group", "Service", "Application", "Organization"}
	collectionTypes = []string{"OrderedCollection", "OrderedCollectionPage", "Collection", "CollectionPage"}
)

// TestSamples decodes every sample of real servers' output and checks the
// effect of each through the path it would take into Starling: activities
// and objects through the inbox (signed POST, store, processor), actors
// through the resolver, WebFinger documents through the resolver's JRD
// reading, and collections as the vocabulary's Collection. Negative samples
// must be refused with a clear error and store nothing.
//
// Each sample starts from an empty database: several fixtures reuse the
// same ids (Akkoma's Mastodon fixtures share one status), and each must be
// judged alone.
func TestSamples(t *testing.T) {
	rig := newSamplesRig(t)
	for _, s := range loadManifest(t) {
		t.Run(s.File, func(t *testing.T) {
			raw, err := os.ReadFile(path.Join(samplesDir, s.File))
			if err != nil {
				t.Fatal(err)
			}
			raw = fillTemplate(raw)
			rig.reset(t)
			switch {
			case s.File == "misc/spoofed-object.json":
				testSpoofedObject(t, rig, raw)
			case strings.HasSuffix(s.File, ".xml"):
				testHostMeta(t, raw)
			case strings.HasSuffix(s.File, ".txt"):
				testHTTPResponse(t, raw)
			case s.Type == nil:
				testWebFinger(t, raw)
			case slices.Contains(actorTypes, s.typ()):
				testActor(t, rig, raw)
			case slices.Contains(collectionTypes, s.typ()):
				testCollection(t, s, raw)
			default:
				testActivity(t, rig, s, raw)
			}
		})
	}
}

// fillTemplate fills the placeholders of the few samples that are
// templates in their projects' test suites: Akkoma's {{domain}} actors and a
// GoToSocial Go test that splices an id in with `+createID.String()+`.
func fillTemplate(raw []byte) []byte {
	return []byte(strings.NewReplacer(
		"{{DOMAIN}}", "template.example", "{{domain}}", "template.example",
		"{{nickname}}", "nick", "`+createID.String()+`", "http://localhost:8080/users/the_mighty_zork/updates/1",
	).Replace(string(raw)))
}

// testActivity delivers an activity (or a bare object, wrapped in the
// Create its author would have sent) and checks its effect.
func testActivity(t *testing.T, rig *samplesRig, s sample, raw []byte) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if s.NegativeTest {
		testNegative(t, rig, s, raw)
		return
	}
	act, err := activitypub.DecodeActivity(raw)
	var objectOnly *activitypub.Object
	var objectRaw []byte
	if err != nil {
		// Not an activity: a bare object. Wrap it as its author's Create.
		var obj activitypub.Object
		if jerr := json.Unmarshal(raw, &obj); jerr != nil || obj.ID == "" || obj.Type != s.typ() {
			t.Fatalf("neither an activity (%v) nor an object (%v)", err, jerr)
		}
		if obj.AttributedTo.ID == "" {
			// A Tombstone: nobody's to create; decoding it is all.
			if activitypub.IsStatusType(obj.Type) {
				t.Fatalf("a %s without attributedTo", obj.Type)
			}
			return
		}
		objectOnly = &obj
		objectRaw = raw
		wrapped, _ := json.Marshal(map[string]any{
			"@context": activitypub.ActivityStreamsNS,
			"id":       obj.ID + "#create", "type": "Create", "actor": obj.AttributedTo.ID,
			"to": obj.To, "cc": obj.Cc, "object": json.RawMessage(raw),
		})
		raw = wrapped
		if act, err = activitypub.DecodeActivity(raw); err != nil {
			t.Fatalf("wrapped object: %v", err)
		}
	}
	author := rig.seedRemote(t, act.Actor.ID)
	seedPreconditions(t, rig, act)
	obj := objectOnly
	if obj == nil && len(act.Object.Raw) > 0 {
		obj = &activitypub.Object{}
		if err := json.Unmarshal(act.Object.Raw, obj); err != nil {
			t.Fatal(err)
		}
	}
	isStatus := act.Type == "Create" && obj != nil && activitypub.IsStatusType(obj.Type) && !obj.IsPollVote()
	var token string
	if isStatus {
		// Someone here must read it: a follower of its author, who is
		// also the addressee of a message addressed to one person.
		_, token = rig.reader(t, author, addressee(obj, act, author))
	}
	// What is delivered: the activity, signed by its actor; or, for a
	// post in a Lemmy community, the community's Announce of it, signed
	// by the community, as Lemmy delivers them (FEP-1b12). The community
	// does not vouch for its member's words: the post is fetched from its
	// origin, which serves the sample.
	deliveredRaw, signer, deliveredID := raw, act.Actor.ID, act.ID
	if c := community(s, obj); c != "" && objectOnly != nil {
		rig.seedRemote(t, c)
		rig.origin.serve(obj.ID, objectRaw)
		deliveredID = c + "/activities/announce/" + path.Base(obj.ID)
		deliveredRaw, _ = json.Marshal(map[string]any{
			"@context": activitypub.ActivityStreamsNS, "id": deliveredID, "type": "Announce", "actor": c,
			"to": []string{activitypub.Public}, "cc": []string{c + "/followers"}, "object": json.RawMessage(raw),
		})
		signer = c
	}

	status, msg := rig.deliver(t, signer, deliveredRaw)
	if status != http.StatusAccepted {
		t.Fatalf("inbox answered %d: %s", status, msg)
	}
	if err := rig.process(t, deliveredID); err != nil {
		t.Fatalf("process: %v", err)
	}
	// A replay is stored once and changes nothing. (Not after a profile
	// Update: it replaced the key the rig signs with by the sample's.)
	if act.Type != "Update" || obj == nil || !slices.Contains(actorTypes, obj.Type) {
		if status, msg := rig.deliver(t, signer, deliveredRaw); status != http.StatusAccepted {
			t.Fatalf("replay: inbox answered %d: %s", status, msg)
		}
		if n, err := rig.db.CountInboxActivities(t.Context(), deliveredID); err != nil || n != 1 {
			t.Fatalf("stored %d times (%v), want once", n, err)
		}
	}
	if isStatus {
		checkVisible(t, rig, obj, token)
	}
	switch {
	case act.Type == "Create" && obj != nil && activitypub.IsStatusType(obj.Type) && !obj.IsPollVote():
		checkStatus(t, rig, s, obj)
	case act.Type == "Create" && obj != nil:
		// ChatMessage, Audio: acknowledged, not shown.
		if _, err := rig.db.StatusIDByURI(t.Context(), obj.ID); !errors.Is(err, starling.ErrNotFound) {
			t.Errorf("a %s became a status (err %v)", obj.Type, err)
		}
	case act.Type == "Update" && obj != nil && slices.Contains(actorTypes, obj.Type):
		a, err := rig.db.AccountByURI(t.Context(), act.Actor.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a.DisplayName != obj.Name {
			t.Errorf("account after Update: display name %q, want %q", a.DisplayName, obj.Name)
		}
	case act.Type == "Follow":
		follower, _ := rig.db.AccountByURI(t.Context(), act.Actor.ID)
		followee, _ := rig.db.AccountByURI(t.Context(), act.Object.ID)
		f, err := rig.db.FollowBetween(t.Context(), follower.ID, followee.ID)
		if err != nil {
			t.Fatalf("no follow after Follow: %v", err)
		}
		if !f.Accepted || !slices.Contains(rig.accepter.accepted, act.ID) {
			t.Errorf("follow of an unlocked account not accepted (accepted %v, Accept sent for %v)", f.Accepted, rig.accepter.accepted)
		}
	case (act.Type == "Accept" || act.Type == "Reject" || act.Type == "Undo") && isFollow(act.Object):
		inner, _ := activitypub.EmbeddedActivity(act.Object)
		follower, _ := rig.db.AccountByURI(t.Context(), inner.Actor.ID)
		followee, _ := rig.db.AccountByURI(t.Context(), inner.Object.ID)
		f, err := rig.db.FollowBetween(t.Context(), follower.ID, followee.ID)
		if act.Type == "Accept" {
			if err != nil || !f.Accepted {
				t.Errorf("follow not accepted after Accept (%+v, %v)", f, err)
			}
		} else if !errors.Is(err, starling.ErrNotFound) {
			t.Errorf("follow still there after %s (%+v, %v)", act.Type, f, err)
		}
	}
}

// seedPreconditions creates what an activity refers to, as if this server
// were its addressee: the local account a Follow targets, the follow an
// Accept, Reject or Undo is about.
func seedPreconditions(t *testing.T, rig *samplesRig, act *activitypub.Activity) {
	switch {
	case act.Type == "Follow" && act.Object.ID != "":
		rig.seedLocal(t, act.Object.ID)
	case (act.Type == "Accept" || act.Type == "Reject") && isFollow(act.Object):
		// Our local account followed the remote actor.
		inner, _ := activitypub.EmbeddedActivity(act.Object)
		local := rig.seedLocal(t, inner.Actor.ID)
		remote := rig.seedRemote(t, inner.Object.ID)
		seedFollow(t, rig, local, remote, inner.ID)
	case act.Type == "Undo" && isFollow(act.Object):
		// The remote actor followed our local account.
		inner, _ := activitypub.EmbeddedActivity(act.Object)
		local := rig.seedLocal(t, inner.Object.ID)
		remote := rig.seedRemote(t, inner.Actor.ID)
		seedFollow(t, rig, remote, local, inner.ID)
	}
}

func seedFollow(t *testing.T, rig *samplesRig, follower, followee *starling.Account, uri string) {
	t.Helper()
	if _, err := rig.db.UpsertRemoteFollow(t.Context(), &starling.Follow{
		ID: starling.NewID(time.Now()), FollowerID: follower.ID, FolloweeID: followee.ID, URI: uri,
	}); err != nil {
		t.Fatal(err)
	}
}

func isFollow(ref activitypub.Ref) bool {
	inner, err := activitypub.EmbeddedActivity(ref)
	return err == nil && inner.Type == "Follow"
}

// checkStatus checks the status made of obj against the sample's features.
func checkStatus(t *testing.T, rig *samplesRig, s sample, obj *activitypub.Object) {
	t.Helper()
	st, err := rig.db.StatusByURI(t.Context(), obj.ID)
	if err != nil {
		t.Fatalf("no status for %s: %v", obj.ID, err)
	}
	extras, err := rig.db.StatusExtrasByURI(t.Context(), obj.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Content == "" {
		t.Error("status has no content")
	}
	if obj.Summary != "" && (st.SpoilerText != obj.Summary || !st.Sensitive) {
		t.Errorf("summary %q: spoiler %q, sensitive %v", obj.Summary, st.SpoilerText, st.Sensitive)
	}
	if obj.Sensitive && !st.Sensitive {
		t.Error("sensitive object, status not sensitive")
	}
	if obj.Name != "" && obj.Type != "Note" && obj.Type != "Question" && !strings.Contains(st.Content, htmlEscape(obj.Name)) {
		t.Errorf("title %q missing from content", obj.Name)
	}
	for _, opt := range append(obj.OneOf, obj.AnyOf...) {
		if !strings.Contains(st.Content, "<li>"+htmlEscape(opt.Name)+"</li>") {
			t.Errorf("poll option %q missing from content %q", opt.Name, st.Content)
		}
	}
	// Pictures, videos and sounds are the status's media, shown by their
	// remote URL; other attachments (links) are written after the text.
	for _, a := range obj.Attachment {
		l := a.Link()
		switch {
		case l == "":
		case a.IsMedia() && !slices.ContainsFunc(st.Attachments, func(m starling.MediaAttachment) bool {
			return m.RemoteURL == l && m.URL == l && m.Type != ""
		}):
			t.Errorf("media attachment %q missing from the status's attachments %+v", l, st.Attachments)
		case !a.IsMedia() && !strings.Contains(st.Content, htmlEscape(l)):
			t.Errorf("attachment %q missing from content", l)
		}
	}
	if s.has("tag:Mention") && len(extras.Mentions) == 0 {
		t.Error("sample has mentions; status has none")
	}
	if s.has("tag:Hashtag") && len(extras.Hashtags) == 0 {
		t.Error("sample has hashtags; status has none")
	}
	for _, q := range []string{obj.QuoteURL, obj.QuoteURI, obj.MisskeyQuote} {
		if q != "" && extras.QuoteURI == "" {
			t.Errorf("quote %q not recorded", q)
		}
	}
	if (s.has("_misskey_content") || s.has("contentMap")) && obj.Content == "" && st.Content == "" {
		t.Error("content from _misskey_content/contentMap missing")
	}
}

func htmlEscape(s string) string { return html.EscapeString(s) }

// addressee returns the one person a status is addressed to, when it is
// addressed to people only (a direct message): the reader must be them.
// It returns "" for statuses addressed to the public or to followers.
func addressee(obj *activitypub.Object, act *activitypub.Activity, author *starling.Account) string {
	to, cc := obj.To, obj.Cc
	if len(to) == 0 && len(cc) == 0 {
		to, cc = act.To, act.Cc
	}
	if to.HasPublic() || cc.HasPublic() || to.Contains(author.FollowersURL) || cc.Contains(author.FollowersURL) {
		return ""
	}
	for _, iri := range append(to, cc...) {
		if !strings.Contains(iri, "/c/") && !strings.HasSuffix(iri, "/followers") {
			return iri
		}
	}
	return ""
}

// community returns the Lemmy community a Lemmy object is posted in, if any.
func community(s sample, obj *activitypub.Object) string {
	if s.EmittedBy != "lemmy" || obj == nil {
		return ""
	}
	for _, iri := range append(obj.To, obj.Cc...) {
		if strings.Contains(iri, "/c/") {
			return iri
		}
	}
	return ""
}

// checkVisible checks that the status made of obj reaches its reader
// through the Mastodon API, after the timeline builder has run on it as the
// timeline stream would: in their home timeline, or by its id.
func checkVisible(t *testing.T, rig *samplesRig, obj *activitypub.Object, token string) {
	t.Helper()
	id, err := rig.db.StatusIDByURI(t.Context(), obj.ID)
	if err != nil {
		t.Fatalf("no status for %s: %v", obj.ID, err)
	}
	ev, _ := json.Marshal(queue.TimelineEvent{StatusID: id})
	if err := rig.builder.Apply(t.Context(), queue.StatusCreated, ev); err != nil {
		t.Fatalf("timeline: %v", err)
	}
	var home []apiStatus
	if status := rig.apiGet(t, token, "/api/v1/timelines/home?limit=40", &home); status != http.StatusOK {
		t.Fatalf("home timeline: %d", status)
	}
	inHome := slices.ContainsFunc(home, func(s apiStatus) bool { return s.URI == obj.ID })
	var got apiStatus
	byID := rig.apiGet(t, token, fmt.Sprintf("/api/v1/statuses/%d", id), &got)
	if !inHome && byID != http.StatusOK {
		st, _ := rig.db.StatusByURI(t.Context(), obj.ID)
		vis := ""
		if st != nil {
			vis = st.Visibility
		}
		t.Errorf("status (visibility %q) not visible to its reader: not in their home timeline, GET by id %d", vis, byID)
	}
}

// testNegative checks that a negative sample is refused at the door with a
// clear 400 and stores nothing.
func testNegative(t *testing.T, rig *samplesRig, s sample, raw []byte) {
	t.Helper()
	var head struct {
		ID    string          `json:"id"`
		Actor activitypub.Ref `json:"actor"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.ID == "" || head.Actor.ID == "" {
		t.Fatalf("negative sample without id and actor (%v)", err)
	}
	rig.seedRemote(t, head.Actor.ID)
	before, err := rig.db.CountInboxActivities(t.Context(), head.ID)
	if err != nil {
		t.Fatal(err)
	}
	status, msg := rig.deliver(t, head.Actor.ID, raw)
	if status != http.StatusBadRequest {
		t.Fatalf("inbox answered %d (%s), want 400", status, msg)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(msg), &body); err != nil || body.Error == "" {
		t.Fatalf("400 without a JSON error: %q", msg)
	}
	t.Logf("refused: %s (%s)", body.Error, s.Note)
	if n, err := rig.db.CountInboxActivities(t.Context(), head.ID); err != nil || n != before {
		t.Fatalf("stored %d (%v), want nothing", n-before, err)
	}
}

// testSpoofedObject: Akkoma's fixture is served for a URL other than its id
// (its test fetches https://patch.cx/media/03ca3c8b4ac3ddd08bf0f84be7885f2f88de0f709112131a22d83650819e36c2.json).
// Decoding it as fetched from there must fail, and it must not get in
// through the inbox either, delivered by a server that is not its host.
func testSpoofedObject(t *testing.T, rig *samplesRig, raw []byte) {
	const fetchedFrom = "https://patch.cx/media/03ca3c8b4ac3ddd08bf0f84be7885f2f88de0f709112131a22d83650819e36c2.json"
	_, err := activitypub.DecodeFetchedObject(fetchedFrom, raw)
	var derr *activitypub.DecodeError
	if !errors.As(err, &derr) {
		t.Fatalf("spoofed object decoded (err %v), want a DecodeError", err)
	}
	t.Logf("refused: %v", err)

	const attacker = "https://attacker.example/users/mallory"
	create, _ := json.Marshal(map[string]any{
		"id": attacker + "/create/1", "type": "Create", "actor": attacker, "object": json.RawMessage(raw),
	})
	rig.seedRemote(t, attacker)
	if status, msg := rig.deliver(t, attacker, create); status != http.StatusBadRequest || !strings.Contains(msg, "not on its actor's host") {
		t.Fatalf("inbox answered %d (%s), want 400", status, msg)
	}
	if n, _ := rig.db.CountInboxActivities(t.Context(), attacker+"/create/1"); n != 0 {
		t.Fatal("spoofing Create stored")
	}
	if _, err := rig.db.StatusIDByURI(t.Context(), "https://patch.cx/objects/spoof"); !errors.Is(err, starling.ErrNotFound) {
		t.Fatalf("spoofed status stored (%v)", err)
	}
}

// testActor resolves the actor document through the resolver, served from
// its own id, and checks the account it stores.
func testActor(t *testing.T, rig *samplesRig, raw []byte) {
	var doc activitypub.Actor
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	a := resolveServed(t, rig, doc.ID, raw)
	if a.URI != doc.ID || a.InboxURL != doc.Inbox {
		t.Errorf("account %+v does not match the document", a)
	}
	if _, err := signature.ParsePublicKey(doc.PublicKey.PublicKeyPEM); err != nil {
		// Akkoma's Mastodon Application fixture has a corrupted key.
		if a.PublicKeyPEM != "" || a.KeyID != "" {
			t.Errorf("unusable key stored: %v", err)
		}
		t.Logf("actor kept without its unusable key: %v", err)
	} else if a.PublicKeyPEM == "" || a.KeyID != doc.PublicKey.ID {
		t.Errorf("key %q not stored", doc.PublicKey.ID)
	}
	if a.Bot != (doc.Type == "Service" || doc.Type == "Application") {
		t.Errorf("bot = %v for a %s", a.Bot, doc.Type)
	}
}

// resolveServed runs a resolver whose network serves raw at uri (and
// nothing else), and returns the account it stores.
func resolveServed(t *testing.T, rig *samplesRig, uri string, raw []byte) *starling.Account {
	t.Helper()
	r := &federation.Resolver{
		Store: rig.db,
		Client: &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.URL.String() != uri {
				return nil, fmt.Errorf("unexpected fetch of %s", req.URL)
			}
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {activitypub.ContentType}},
				Body: io.NopCloser(bytes.NewReader(raw)), Request: req}, nil
		})},
		Site:   federation.Site{Scheme: "https", Host: "starling.test"},
		Scheme: "https",
	}
	a, err := r.Actor(t.Context(), uri, true)
	if err != nil {
		t.Fatalf("resolve %s: %v", uri, err)
	}
	return a
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func testWebFinger(t *testing.T, raw []byte) {
	href, err := federation.WebFingerActor(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(href, "https://") && !strings.HasPrefix(href, "http://") {
		t.Fatalf("actor link %q", href)
	}
}

func testCollection(t *testing.T, s sample, raw []byte) {
	var c activitypub.Collection
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || c.Type != s.typ() {
		t.Fatalf("collection %q of type %q, manifest says %q", c.ID, c.Type, s.typ())
	}
}

// testHostMeta reads the WebFinger template from a host-meta XRD.
func testHostMeta(t *testing.T, raw []byte) {
	var xrd struct {
		Links []struct {
			Rel      string `xml:"rel,attr"`
			Template string `xml:"template,attr"`
		} `xml:"Link"`
	}
	if err := xml.Unmarshal(raw, &xrd); err != nil {
		t.Fatal(err)
	}
	for _, l := range xrd.Links {
		if l.Rel == "lrdd" && strings.Contains(l.Template, "{uri}") {
			return
		}
	}
	t.Fatalf("no lrdd template in %+v", xrd)
}

// testHTTPResponse reads a raw HTTP response and decodes its body as what
// its Content-Type says: an actor or a WebFinger document.
func testHTTPResponse(t *testing.T, raw []byte) {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	raw = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ct := resp.Header.Get("Content-Type")
	switch {
	case strings.Contains(ct, "jrd"):
		testWebFinger(t, body)
	case activitypub.IsActivityPubMediaType(ct) || strings.Contains(ct, "json"):
		var doc activitypub.Actor
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.ID == "" || doc.Inbox == "" || doc.PublicKey == nil {
			t.Fatalf("actor document incomplete: %+v", doc)
		}
	default:
		t.Fatalf("unexpected Content-Type %q", ct)
	}
}
