package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/signature"
)

// gtsPeer is a small ActivityPub server on loopback that behaves as
// GoToSocial does in the two respects that kept it from federating with
// Starling:
//
//   - Its key id has no fragment (/users/gary/main-key), and that URL
//     answers, unsigned, with a stub of the actor: id, preferredUsername
//     and publicKey, no inbox.
//   - Everything else about its actor is served only to signed fetches,
//     and before it trusts any signer (on a fetch or an inbox POST) it
//     fetches the signer's actor, WebFingers preferredUsername@host, and
//     requires the answer's subject to be that address and its self link
//     the actor. It speaks draft-cavage only.
//
// It has one account, gary, which accepts every follow.
type gtsPeer struct {
	t      *testing.T
	srv    *httptest.Server
	base   string // http://127.0.0.1:port
	host   string // 127.0.0.1:port
	key    crypto.PrivateKey
	pubPEM string
	client *http.Client

	mu        sync.Mutex
	seq       int
	actors    map[string]*activitypub.Actor // verified signers and fetched actors, by id
	received  []gtsReceived                 // inbox POSTs that verified
	refused   []string                      // requests refused, and why
	followers map[string]bool               // actor ids following gary
	profile   map[string]any                // properties of gary's actor that override the defaults
	sending   sync.WaitGroup
}

// gtsReceived is an activity gary's inbox accepted.
type gtsReceived struct {
	Type, ID, Actor, Content string
}

func startGoToSocial(t *testing.T) *gtsPeer {
	t.Helper()
	pub, priv, err := signature.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := signature.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	p := &gtsPeer{t: t, key: key, pubPEM: pub, client: &http.Client{Timeout: 10 * time.Second},
		actors: map[string]*activitypub.Actor{}, followers: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/webfinger", p.webfinger)
	mux.HandleFunc("GET /users/gary/main-key", p.publicKey)
	mux.HandleFunc("GET /users/gary", p.actor)
	mux.HandleFunc("POST /users/gary/inbox", p.inbox)
	p.srv = httptest.NewServer(mux)
	p.base = p.srv.URL
	p.host = strings.TrimPrefix(p.base, "http://")
	t.Cleanup(func() {
		p.sending.Wait()
		p.srv.Close()
	})
	return p
}

func (p *gtsPeer) actorID() string { return p.base + "/users/gary" }
func (p *gtsPeer) keyID() string   { return p.actorID() + "/main-key" }
func (p *gtsPeer) acct() string    { return "gary@" + p.host }

func (p *gtsPeer) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	p.mu.Lock()
	p.refused = append(p.refused, fmt.Sprintf("%s %s: %d %v", r.Method, r.URL, status, err))
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func writeAP(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", activitypub.ContentType)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *gtsPeer) webfinger(w http.ResponseWriter, r *http.Request) {
	res := r.URL.Query().Get("resource")
	if res != "acct:"+p.acct() && res != p.actorID() {
		p.refuse(w, r, http.StatusNotFound, errors.New("no such account"))
		return
	}
	w.Header().Set("Content-Type", "application/jrd+json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"subject": "acct:" + p.acct(),
		"aliases": []string{p.actorID()},
		"links":   []map[string]string{{"rel": "self", "type": activitypub.ContentType, "href": p.actorID()}},
	})
}

func (p *gtsPeer) publicKeyObject() map[string]string {
	return map[string]string{"id": p.keyID(), "owner": p.actorID(), "publicKeyPem": p.pubPEM}
}

// publicKey serves GoToSocial's stub of the actor at its key id, to anyone:
// a remote must be able to read the key before it can sign a fetch of the
// rest.
func (p *gtsPeer) publicKey(w http.ResponseWriter, r *http.Request) {
	writeAP(w, map[string]any{
		"@context":          []string{activitypub.ActivityStreamsNS, activitypub.SecurityNS},
		"id":                p.actorID(),
		"type":              "Person",
		"preferredUsername": "gary",
		"publicKey":         p.publicKeyObject(),
	})
}

// actor serves the whole actor, to signed fetches only.
func (p *gtsPeer) actor(w http.ResponseWriter, r *http.Request) {
	if _, err := p.verify(r, nil); err != nil {
		p.refuse(w, r, http.StatusUnauthorized, err)
		return
	}
	writeAP(w, p.actorDocument())
}

// actorDocument is gary's whole actor, with p.profile's properties over
// the defaults.
func (p *gtsPeer) actorDocument() map[string]any {
	doc := map[string]any{
		"@context":          []string{activitypub.ActivityStreamsNS, activitypub.SecurityNS},
		"id":                p.actorID(),
		"type":              "Person",
		"preferredUsername": "gary",
		"name":              "Gary",
		"inbox":             p.actorID() + "/inbox",
		"outbox":            p.actorID() + "/outbox",
		"followers":         p.actorID() + "/followers",
		"following":         p.actorID() + "/following",
		"url":               p.base + "/@gary",
		"publicKey":         p.publicKeyObject(),
	}
	p.mu.Lock()
	maps.Copy(doc, p.profile)
	p.mu.Unlock()
	return doc
}

// setProfile replaces the properties of gary's actor that override the
// defaults (name, summary, attachment, …).
func (p *gtsPeer) setProfile(props map[string]any) {
	p.mu.Lock()
	p.profile = props
	p.mu.Unlock()
}

// sendUpdate delivers an Update of gary's actor, embedded whole, to inbox.
func (p *gtsPeer) sendUpdate(inbox string) {
	p.t.Helper()
	update := map[string]any{"@context": activitypub.ActivityStreamsNS, "id": p.newID("updates"),
		"type": "Update", "actor": p.actorID(), "to": []string{activitypub.Public}, "object": p.actorDocument()}
	if err := p.deliver(p.t.Context(), inbox, update); err != nil {
		p.t.Fatalf("GoToSocial: deliver an Update to %s: %v", inbox, err)
	}
}

// verify checks a request's draft-cavage signature and that its signer
// passes the WebFinger check; it returns the signer's actor id.
func (p *gtsPeer) verify(r *http.Request, body []byte) (string, error) {
	if r.Header.Get("Signature-Input") != "" {
		return "", errors.New("RFC 9421 signatures are not understood here")
	}
	if r.Header.Get("Signature") == "" {
		return "", errors.New("only signed requests are answered")
	}
	v, err := signature.VerifyRequest(r.Context(), r, body, time.Now(), p.lookupKey)
	if err != nil {
		return "", err
	}
	return v.Owner, nil
}

// lookupKey fetches the actor of keyID with a signed GET, as GoToSocial
// does, and accepts it only if WebFinger of preferredUsername@host names
// it with that very subject.
func (p *gtsPeer) lookupKey(ctx context.Context, keyID string, refresh bool) (crypto.PublicKey, string, error) {
	actorURL, _, _ := strings.Cut(keyID, "#")
	a, err := p.fetchActor(ctx, actorURL)
	if err != nil {
		return nil, "", err
	}
	if a.PublicKey == nil || a.PublicKey.ID != keyID || a.PublicKey.Owner != a.ID {
		return nil, "", fmt.Errorf("actor %s does not own key %s", a.ID, keyID)
	}
	host, err := activitypub.HostOf(a.ID)
	if err != nil {
		return nil, "", err
	}
	want := "acct:" + a.PreferredUsername + "@" + host
	body, err := p.get(ctx, "http://"+host+"/.well-known/webfinger?resource="+url.QueryEscape(want), "application/jrd+json", false)
	if err != nil {
		return nil, "", fmt.Errorf("webfinger %s: %w", want, err)
	}
	var j jrd
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, "", fmt.Errorf("webfinger %s: %w", want, err)
	}
	if !strings.EqualFold(j.Subject, want) || j.self() != a.ID {
		return nil, "", fmt.Errorf("webfinger %s: subject %q, self %q; the actor is %s", want, j.Subject, j.self(), a.ID)
	}
	pub, err := signature.ParsePublicKey(a.PublicKey.PublicKeyPEM)
	if err != nil {
		return nil, "", err
	}
	return pub, a.ID, nil
}

// fetchActor GETs an actor, signed as gary.
func (p *gtsPeer) fetchActor(ctx context.Context, id string) (*activitypub.Actor, error) {
	body, err := p.get(ctx, id, activitypub.ContentType, true)
	if err != nil {
		return nil, err
	}
	var a activitypub.Actor
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decode actor %s: %w", id, err)
	}
	if a.ID != id || a.Inbox == "" {
		return nil, fmt.Errorf("%s is not an actor: id %q inbox %q", id, a.ID, a.Inbox)
	}
	p.mu.Lock()
	p.actors[a.ID] = &a
	p.mu.Unlock()
	return &a, nil
}

func (p *gtsPeer) get(ctx context.Context, rawURL, accept string, sign bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	if sign {
		if err := signature.SignRequest(req, p.keyID(), p.key, nil, time.Now()); err != nil {
			return nil, err
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", rawURL, resp.StatusCode, body)
	}
	return body, nil
}

// inbox accepts signed activities whose actor is the signer, and accepts
// every Follow of gary.
func (p *gtsPeer) inbox(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		p.refuse(w, r, http.StatusBadRequest, err)
		return
	}
	signer, err := p.verify(r, body)
	if err != nil {
		p.refuse(w, r, http.StatusUnauthorized, err)
		return
	}
	var act struct {
		ID     string          `json:"id"`
		Type   string          `json:"type"`
		Actor  string          `json:"actor"`
		Object json.RawMessage `json:"object"`
	}
	if err := json.Unmarshal(body, &act); err != nil || act.Actor != signer {
		p.refuse(w, r, http.StatusBadRequest, fmt.Errorf("activity by %q signed by %q (%v)", act.Actor, signer, err))
		return
	}
	rec := gtsReceived{Type: act.Type, ID: act.ID, Actor: act.Actor}
	var obj struct {
		Content string `json:"content"`
	}
	_ = json.Unmarshal(act.Object, &obj)
	rec.Content = obj.Content
	p.mu.Lock()
	p.received = append(p.received, rec)
	follower := p.actors[act.Actor]
	p.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)

	var target string
	if act.Type == "Follow" && json.Unmarshal(act.Object, &target) == nil && target == p.actorID() && follower != nil {
		p.mu.Lock()
		p.followers[act.Actor] = true
		p.mu.Unlock()
		// Accept later, as GoToSocial does, not in the inbox's answer.
		p.sending.Add(1)
		go func() {
			defer p.sending.Done()
			accept := map[string]any{"@context": activitypub.ActivityStreamsNS, "id": p.newID("accepts"),
				"type": "Accept", "actor": p.actorID(), "object": json.RawMessage(body)}
			if err := p.deliver(context.Background(), follower.Inbox, accept); err != nil {
				p.mu.Lock()
				p.refused = append(p.refused, "Accept of "+act.ID+": "+err.Error())
				p.mu.Unlock()
			}
		}()
	}
}

func (p *gtsPeer) newID(kind string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	return p.actorID() + "/" + kind + "/" + strconv.Itoa(p.seq)
}

// deliver POSTs an activity to an inbox, signed as gary.
func (p *gtsPeer) deliver(ctx context.Context, inbox string, act any) error {
	body, err := json.Marshal(act)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, inbox, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", activitypub.ContentType)
	if err := signature.SignRequest(req, p.keyID(), p.key, body, time.Now()); err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %d %s", inbox, resp.StatusCode, msg)
	}
	return nil
}

// follow makes gary follow the actor id.
func (p *gtsPeer) follow(id string) {
	p.t.Helper()
	ctx := p.t.Context()
	a, err := p.fetchActor(ctx, id)
	if err != nil {
		p.t.Fatalf("GoToSocial: fetch %s: %v", id, err)
	}
	follow := map[string]any{"@context": activitypub.ActivityStreamsNS, "id": p.newID("follows"),
		"type": "Follow", "actor": p.actorID(), "object": id}
	if err := p.deliver(ctx, a.Inbox, follow); err != nil {
		p.t.Fatalf("GoToSocial: Follow %s: %v", id, err)
	}
}

// post delivers a public Note by gary to the inbox of each of to, and
// returns its id.
func (p *gtsPeer) post(content string, to ...string) string {
	p.t.Helper()
	return p.postNote(map[string]any{"content": content, "contentMap": map[string]string{"en": content}}, to...)
}

// postNote is post with the Note's properties (content, summary, …) given
// whole; they override the defaults.
func (p *gtsPeer) postNote(props map[string]any, to ...string) string {
	p.t.Helper()
	id := p.newID("statuses")
	note := map[string]any{"id": id, "type": "Note", "attributedTo": p.actorID(), "published": time.Now().UTC().Format(time.RFC3339),
		"to": []string{activitypub.Public}, "cc": []string{p.actorID() + "/followers"}, "url": p.base + "/@gary/" + id[strings.LastIndex(id, "/")+1:]}
	maps.Copy(note, props)
	create := map[string]any{"@context": activitypub.ActivityStreamsNS, "id": id + "/activity", "type": "Create",
		"actor": p.actorID(), "to": note["to"], "cc": note["cc"], "object": note}
	for _, actor := range to {
		p.mu.Lock()
		a := p.actors[actor]
		p.mu.Unlock()
		if a == nil {
			p.t.Fatalf("GoToSocial: post to unknown actor %s", actor)
		}
		if err := p.deliver(p.t.Context(), a.Inbox, create); err != nil {
			p.t.Fatalf("GoToSocial: deliver the post to %s: %v", actor, err)
		}
	}
	return id
}

// waitReceived waits until gary's inbox accepted an activity of typ by
// actor that cond (if not nil) likes.
func (p *gtsPeer) waitReceived(typ, actor string, cond func(gtsReceived) bool) gtsReceived {
	p.t.Helper()
	var got gtsReceived
	waitFor(p.t, 20*time.Second, "GoToSocial to accept a "+typ+" from "+actor, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, r := range p.received {
			if r.Type == typ && r.Actor == actor && (cond == nil || cond(r)) {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

func (p *gtsPeer) logRefused() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.refused {
		p.t.Logf("GoToSocial refused: %s", r)
	}
}

// TestGoToSocial federates both ways with a peer that behaves as
// GoToSocial does (see gtsPeer): it follows a Starling account, is followed
// by one, and posts travel in both directions.
//
// Without the resolver's handling of key-id stubs, Starling cannot verify
// the peer's Follow (the document at its key id has no inbox); without the
// instance actor's username agreeing with its WebFinger subject, the peer
// refuses the signed fetch of its actor that Starling makes to resolve it.
func TestGoToSocial(t *testing.T) {
	peer := startGoToSocial(t)
	a := startInstance(t, "A")
	alice := a.user("alice")
	aliceURI := a.base + "/users/alice"
	t.Cleanup(func() {
		if t.Failed() {
			peer.logRefused()
		}
	})

	// GoToSocial → Starling: gary follows alice. Starling meets gary's key
	// id first, which answers with a stub.
	peer.follow(aliceURI)
	waitFor(t, 20*time.Second, "alice to have gary as a follower", func() bool {
		var me api.Account
		a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
		return me.FollowersCount == 1
	})
	peer.waitReceived("Accept", aliceURI, nil)

	// Starling → GoToSocial: alice resolves gary (a signed fetch, which the
	// peer answers only once Starling's instance actor passes WebFinger) and
	// follows him; the peer accepts.
	gary := a.resolve(alice, peer.acct())
	a.follow(alice, gary)
	peer.waitReceived("Follow", aliceURI, nil)

	// Posts, both ways.
	var post api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"Hello, GoToSocial"}}, &post)
	got := peer.waitReceived("Create", aliceURI, func(r gtsReceived) bool { return strings.Contains(r.Content, "Hello, GoToSocial") })
	t.Logf("GoToSocial accepted %s: %q", got.ID, got.Content)

	note := peer.post("<p>Hello from GoToSocial</p>", aliceURI)
	waitFor(t, 20*time.Second, "gary's post in alice's home timeline", func() bool {
		return a.home(alice, note) == 1
	})
	var page []api.Status
	a.mustCall("GET", "/api/v1/timelines/home?limit=40", alice, nil, &page)
	for _, st := range page {
		if st.URI == note && st.Content != "<p>Hello from GoToSocial</p>" {
			t.Errorf("gary's post reads %q", st.Content)
		}
	}
}
