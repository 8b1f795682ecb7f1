package inbox_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/inbox"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/signature"
	"github.com/starling-social/starling/store/postgres"
)

// Tests of issue 9, the receiving side of federation: each goes through the
// real inbox (signed POST, store, processor) and, where clients are
// concerned, reads back through the Mastodon API.

// reader creates a local account that follows author (accepted) and
// returns it with an access token. uri, when set, is its actor id (the
// addressee of a sample's direct message).
func (rig *samplesRig) reader(t *testing.T, author *starling.Account, uri string) (*starling.Account, string) {
	t.Helper()
	if uri == "" {
		uri = fmt.Sprintf("https://starling.test/users/reader%d", rig.seeded+1)
	}
	r := rig.seedLocal(t, uri)
	if author != nil {
		seedFollow(t, rig, r, author, fmt.Sprintf("https://starling.test/follows/%d", r.ID))
		f, err := rig.db.FollowBetween(t.Context(), r.ID, author.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rig.db.AcceptFollow(t.Context(), f.ID); err != nil {
			t.Fatal(err)
		}
	}
	token := fmt.Sprintf("token-%d", r.ID)
	sum := sha256.Sum256([]byte(token))
	if err := rig.db.CreateAccessToken(t.Context(), sum[:], r.ID, "read write follow"); err != nil {
		t.Fatal(err)
	}
	return r, token
}

// newProcessor returns a processor like the rig's, with its own state
// (rate limits), for a test to adjust.
func (rig *samplesRig) newProcessor() *inbox.Processor {
	p := rig.processor
	return &inbox.Processor{Store: p.Store, Actors: p.Actors, Accepter: p.Accepter, Topology: p.Topology,
		Logger: p.Logger, Fetcher: p.Fetcher, Sanitizer: p.Sanitizer}
}

// apiGet GETs path from the Mastodon API as token's holder and decodes the
// answer into out; it returns the HTTP status.
func (rig *samplesRig) apiGet(t *testing.T, token, path string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rig.api.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// apiStatus is what these tests read of a Mastodon API status.
type apiStatus struct {
	ID          string `json:"id"`
	URI         string `json:"uri"`
	URL         string `json:"url"`
	Content     string `json:"content"`
	SpoilerText string `json:"spoiler_text"`
	Visibility  string `json:"visibility"`
}

// note returns a Note by actor, public, with the given extra properties.
func note(actor, id string, props map[string]any) map[string]any {
	n := map[string]any{
		"id": id, "type": "Note", "attributedTo": actor, "content": "<p>hello</p>",
		"published": "2026-01-02T03:04:05Z",
		"to":        []string{activitypub.Public}, "cc": []string{actor + "/followers"},
	}
	for k, v := range props {
		n[k] = v
	}
	return n
}

// create returns the JSON of actor's Create of obj.
func create(t *testing.T, actor string, obj map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"@context": activitypub.ActivityStreamsNS, "id": obj["id"].(string) + "/activity", "type": "Create",
		"actor": actor, "to": obj["to"], "cc": obj["cc"], "object": obj,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deliverAndProcess delivers body signed as signer, wants 202, and runs the
// processor on activity id.
func (rig *samplesRig) deliverAndProcess(t *testing.T, signer string, body []byte, id string) error {
	t.Helper()
	if status, msg := rig.deliver(t, signer, body); status != http.StatusAccepted {
		t.Fatalf("inbox answered %d: %s", status, msg)
	}
	return rig.process(t, id)
}

// safeHTML reports what in s a browser would execute or load: elements
// outside Mastodon's allow-list, attributes outside it (event handlers,
// style, src), and links that are not http(s).
func safeHTML(s string) []string {
	allowedTags := map[string]bool{"p": true, "br": true, "span": true, "a": true, "del": true, "s": true,
		"pre": true, "blockquote": true, "code": true, "b": true, "strong": true, "u": true, "i": true,
		"em": true, "ul": true, "ol": true, "li": true, "ruby": true, "rt": true, "rp": true}
	allowedAttrs := map[string]bool{"href": true, "rel": true, "class": true, "target": true,
		"translate": true, "start": true, "reversed": true, "value": true}
	var bad []string
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return bad
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			tok := z.Token()
			if !allowedTags[tok.Data] {
				bad = append(bad, "element "+tok.Data)
			}
			for _, a := range tok.Attr {
				if !allowedAttrs[a.Key] {
					bad = append(bad, "attribute "+a.Key)
				}
				if a.Key == "href" && !strings.HasPrefix(a.Val, "https://") && !strings.HasPrefix(a.Val, "http://") {
					bad = append(bad, "link "+a.Val)
				}
			}
		case html.TextToken:
			// Text is shown, never run; but text that reopens markup when
			// a client unescapes it once more would be a trap.
			if t := strings.ToLower(string(z.Text())); strings.Contains(t, "<script") || strings.Contains(t, "<iframe") {
				bad = append(bad, "markup in text "+t)
			}
		}
	}
}

// hostileHTML is what attackers put in content and summaries. Each must
// reach clients with nothing executable, and the text around it kept.
var hostileHTML = []struct{ name, html string }{
	{"script", `<p>hi</p><script>alert(document.cookie)</script>`},
	{"script attribute-less close", `<script src="https://evil.example/x.js"></script><p>hi</p>`},
	{"iframe", `<p>hi</p><iframe src="https://evil.example/"></iframe>`},
	{"style element", `<style>body{display:none}</style><p>hi</p>`},
	{"style attribute", `<p style="position:fixed;top:0;left:0;width:100%;height:100%">hi</p>`},
	{"onclick", `<p onclick="alert(1)">hi</p>`},
	{"onmouseover on a link", `<a href="https://ok.example/" onmouseover="alert(1)">hi</a>`},
	{"img onerror", `<p>hi<img src=x onerror=alert(1)></p>`},
	{"svg onload", `<svg onload=alert(1)><p>hi</p></svg>`},
	{"javascript link", `<a href="javascript:alert(1)">hi</a>`},
	{"javascript link, entity-encoded", `<a href="&#106;avascript:alert(1)">hi</a>`},
	{"javascript link, mixed case and spaces", `<a href=" JaVaScRiPt:alert(1)">hi</a>`},
	{"data link", `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">hi</a>`},
	{"vbscript link", `<a href="vbscript:msgbox(1)">hi</a>`},
	{"object and embed", `<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/x.swf"><p>hi</p>`},
	{"form", `<form action="https://evil.example/"><input name="password"><button>hi</button></form>`},
	{"meta refresh", `<meta http-equiv="refresh" content="0;url=https://evil.example/"><p>hi</p>`},
	{"base and link", `<base href="https://evil.example/"><link rel="stylesheet" href="https://evil.example/x.css"><p>hi</p>`},
	{"nested script", `<<script>script>alert(1)<</script>/script><p>hi</p>`},
	{"unclosed script", `<p>hi</p><script>alert(1)`},
	{"malformed attribute", `<p/onclick="alert(1)">hi</p>`},
	{"comment-hidden script", `<!--<script>-->alert(1)<!--</script>--><p>hi</p>`},
	{"foreign class", `<span class="modal-overlay">hi</span>`},
	{"math and template", `<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`},
}

// TestHostileHTMLIsSanitised sends every hostile fragment as a remote
// Note's content and summary through the inbox and checks what the API
// serves: no element, attribute or link outside Mastodon's allow-list in
// the content, and no markup at all in the content warning.
func TestHostileHTMLIsSanitised(t *testing.T) {
	rig := newSamplesRig(t)
	const actor = "https://evil.example/users/mallory"
	for i, tc := range hostileHTML {
		t.Run(tc.name, func(t *testing.T) {
			rig.reset(t)
			author := rig.seedRemote(t, actor)
			_, token := rig.reader(t, author, "")
			id := fmt.Sprintf("%s/statuses/%d", actor, i)
			obj := note(actor, id, map[string]any{"content": tc.html, "summary": tc.html, "url": "javascript:alert(1)"})
			if err := rig.deliverAndProcess(t, actor, create(t, actor, obj), id+"/activity"); err != nil {
				t.Fatalf("process: %v", err)
			}
			sid, err := rig.db.StatusIDByURI(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			var got apiStatus
			if status := rig.apiGet(t, token, fmt.Sprintf("/api/v1/statuses/%d", sid), &got); status != http.StatusOK {
				t.Fatalf("GET status: %d", status)
			}
			if bad := safeHTML(got.Content); len(bad) > 0 {
				t.Errorf("content %q keeps %v", got.Content, bad)
			}
			// A content warning is plain text: no markup at all, so even a
			// client that renders it as HTML runs nothing.
			if strings.ContainsAny(got.SpoilerText, "<>") {
				t.Errorf("spoiler_text %q keeps markup", got.SpoilerText)
			}
			if !strings.HasPrefix(got.URL, "https://") {
				t.Errorf("url %q is not an http(s) link", got.URL)
			}
		})
	}
}

// TestActorMustOwnTheKey: a key speaks for its owner only. Another actor of
// the same host (or of any host) is either a forward, whose object is
// fetched from its origin, or dropped.
func TestActorMustOwnTheKey(t *testing.T) {
	rig := newSamplesRig(t)
	const (
		alice   = "https://a.example/users/alice"   // the actor claimed
		mallory = "https://a.example/users/mallory" // holds a key on alice's host
		bob     = "https://b.example/users/bob"     // the parent's server, forwarding
		carol   = "https://c.example/users/carol"   // replies to bob
	)
	t.Run("same host, other actor, object not at its origin", func(t *testing.T) {
		rig.reset(t)
		rig.seedRemote(t, alice)
		rig.seedRemote(t, mallory)
		id := alice + "/statuses/spoof"
		obj := note(alice, id, map[string]any{"content": "<p>spoofed by mallory</p>"})
		if err := rig.deliverAndProcess(t, mallory, create(t, alice, obj), inbox.ForwardedURI(id+"/activity", mallory)); err != nil && !queue.IsPermanent(err) {
			t.Fatalf("process: %v (want a permanent refusal or nothing)", err)
		}
		if st, err := rig.db.StatusByURI(t.Context(), id); !errors.Is(err, starling.ErrNotFound) {
			t.Fatalf("mallory's Create as alice stored a status (%+v, %v)", st, err)
		}
		if rig.origin.fetches(id) != 1 {
			t.Errorf("object fetched %d times from its origin, want once", rig.origin.fetches(id))
		}
		// The forgery does not take the activity's id: alice's own
		// delivery of it, later, is stored and applied.
		real := note(alice, id, map[string]any{"content": "<p>alice own words</p>"})
		if err := rig.deliverAndProcess(t, alice, create(t, alice, real), id+"/activity"); err != nil {
			t.Fatal(err)
		}
		if st, err := rig.db.StatusByURI(t.Context(), id); err != nil || !strings.Contains(st.Content, "alice own words") {
			t.Fatalf("alice's own Create after the forgery: %+v, %v", st, err)
		}
	})
	t.Run("forwarded reply uses the origin's copy", func(t *testing.T) {
		rig.reset(t)
		rig.seedRemote(t, bob)
		rig.seedRemote(t, carol)
		id := carol + "/statuses/1"
		real := note(carol, id, map[string]any{"content": "<p>what carol wrote</p>"})
		rig.origin.serve(id, mustJSON(t, real))
		forged := note(carol, id, map[string]any{"content": "<p>what bob says carol wrote</p>"})
		if err := rig.deliverAndProcess(t, bob, create(t, carol, forged), inbox.ForwardedURI(id+"/activity", bob)); err != nil {
			t.Fatalf("process: %v", err)
		}
		st, err := rig.db.StatusByURI(t.Context(), id)
		if err != nil {
			t.Fatalf("forwarded reply not stored: %v", err)
		}
		if !strings.Contains(st.Content, "what carol wrote") {
			t.Errorf("stored content %q, want the origin's", st.Content)
		}
		if !rig.origin.signed {
			t.Error("the fetch from the origin was not signed")
		}
	})
	t.Run("a group relays another actor's Create: the origin's copy", func(t *testing.T) {
		rig.reset(t)
		rig.seedRemote(t, alice)
		rig.seedRemote(t, mallory)
		id := alice + "/statuses/relayed"
		rig.origin.serve(id, mustJSON(t, note(alice, id, map[string]any{"content": "<p>alice wrote this</p>"})))
		forged := note(alice, id, map[string]any{"content": "<p>mallory wrote this</p>"})
		announce := mustJSON(t, map[string]any{"id": mallory + "/announces/1", "type": "Announce", "actor": mallory,
			"to": []string{activitypub.Public}, "object": json.RawMessage(create(t, alice, forged))})
		if err := rig.deliverAndProcess(t, mallory, announce, mallory+"/announces/1"); err != nil {
			t.Fatal(err)
		}
		st, err := rig.db.StatusByURI(t.Context(), id)
		if err != nil || !strings.Contains(st.Content, "alice wrote this") {
			t.Fatalf("relayed Create stored %+v (%v), want the origin's copy", st, err)
		}
	})
	t.Run("forwarded Like is dropped", func(t *testing.T) {
		rig.reset(t)
		rig.seedRemote(t, alice)
		rig.seedRemote(t, mallory)
		like := mustJSON(t, map[string]any{"id": alice + "/likes/1", "type": "Like", "actor": alice,
			"object": "https://starling.test/users/x/statuses/1"})
		if status, msg := rig.deliver(t, mallory, like); status != http.StatusAccepted {
			t.Fatalf("inbox answered %d (%s), want 202", status, msg)
		}
		if n, _ := rig.db.CountInboxActivities(t.Context(), alice+"/likes/1"); n != 0 {
			t.Error("a forwarded Like was stored")
		}
	})
	// An Object Integrity Proof (FEP-8b32) by the actor's own Ed25519 key
	// makes a forward the actor's own: stored under its id, as if alice
	// had delivered it. A proof by another key, or over other bytes, does
	// not.
	withEd25519 := func(t *testing.T, uri string) ed25519.PrivateKey {
		t.Helper()
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		a := rig.seedRemote(t, uri)
		a.Ed25519KeyID, a.Ed25519PublicKey = uri+"/ed25519-key", signature.EncodeMultikey(pub)
		if _, err := rig.db.UpsertRemoteAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		return priv
	}
	for _, tc := range []struct {
		name   string
		proof  func(t *testing.T, like []byte) []byte
		stored int
	}{
		{"forwarded Like with its actor's proof is the actor's", func(t *testing.T, like []byte) []byte {
			return must(signature.SignObjectProof(like, alice+"/ed25519-key", withEd25519(t, alice), time.Now()))
		}, 1},
		{"forwarded Like with the forwarder's proof is dropped", func(t *testing.T, like []byte) []byte {
			withEd25519(t, alice)
			return must(signature.SignObjectProof(like, mallory+"/ed25519-key", withEd25519(t, mallory), time.Now()))
		}, 0},
		{"forwarded Like changed after its actor's proof is dropped", func(t *testing.T, like []byte) []byte {
			signed := must(signature.SignObjectProof(like, alice+"/ed25519-key", withEd25519(t, alice), time.Now()))
			return bytes.Replace(signed, []byte("statuses/1"), []byte("statuses/2"), 1)
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig.reset(t)
			rig.seedRemote(t, mallory)
			like := mustJSON(t, map[string]any{"id": alice + "/likes/2", "type": "Like", "actor": alice,
				"object": "https://starling.test/users/x/statuses/1"})
			if status, msg := rig.deliver(t, mallory, tc.proof(t, like)); status != http.StatusAccepted {
				t.Fatalf("inbox answered %d (%s), want 202", status, msg)
			}
			if n, _ := rig.db.CountInboxActivities(t.Context(), alice+"/likes/2"); n != tc.stored {
				t.Errorf("stored %d times under its own id, want %d", n, tc.stored)
			}
		})
	}
	t.Run("the actor's own key", func(t *testing.T) {
		rig.reset(t)
		rig.seedRemote(t, alice)
		id := alice + "/statuses/own"
		if err := rig.deliverAndProcess(t, alice, create(t, alice, note(alice, id, nil)), id+"/activity"); err != nil {
			t.Fatal(err)
		}
		if _, err := rig.db.StatusByURI(t.Context(), id); err != nil {
			t.Fatalf("own Create not stored: %v", err)
		}
		if rig.origin.fetches(id) != 0 {
			t.Error("an activity signed by its actor was refetched")
		}
	})
}

// TestUnstorableTextRefused: NUL characters, invalid UTF-8 and nesting
// deeper than activitypub.MaxDepth anywhere in the body are refused with
// 400 before anything is stored; an escaped
// backslash followed by "u0000" is text and passes.
func TestUnstorableTextRefused(t *testing.T) {
	rig := newSamplesRig(t)
	const actor = "https://nul.example/users/n"
	for _, tc := range []struct {
		name  string
		obj   func(id string) map[string]any
		raw   func(b []byte) []byte // applied to the JSON
		field string
		want  int
	}{
		{"NUL in content", func(id string) map[string]any {
			return note(actor, id, map[string]any{"content": "<p>a\x00b</p>"})
		}, nil, "", http.StatusBadRequest},
		{"NUL in summary", func(id string) map[string]any {
			return note(actor, id, map[string]any{"summary": "cw\x00"})
		}, nil, "", http.StatusBadRequest},
		{"NUL in a tag name", func(id string) map[string]any {
			return note(actor, id, map[string]any{"tag": []any{map[string]any{"type": "Hashtag", "name": "#a\x00b", "href": actor}}})
		}, nil, "", http.StatusBadRequest},
		{"invalid UTF-8 in content", func(id string) map[string]any {
			return note(actor, id, map[string]any{"content": "<p>MARK</p>"})
		}, func(b []byte) []byte { return bytes.Replace(b, []byte("MARK"), []byte("a\xff\xfeb"), 1) }, "", http.StatusBadRequest},
		{"nested deeper than activitypub.MaxDepth", func(id string) map[string]any {
			return note(actor, id, map[string]any{"content": "<p>hi</p>", "deep": "MARK"})
		}, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"MARK"`), []byte(strings.Repeat("[", 100)+strings.Repeat("]", 100)), 1)
		}, "", http.StatusBadRequest},
		{"escaped backslash then u0000 is text", func(id string) map[string]any {
			return note(actor, id, map[string]any{"content": `<p>C:\u0000</p>`})
		}, nil, "", http.StatusAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig.reset(t)
			rig.seedRemote(t, actor)
			id := actor + "/statuses/" + strings.ReplaceAll(tc.name, " ", "-")
			body := create(t, actor, tc.obj(id))
			if tc.raw != nil {
				body = tc.raw(body)
			}
			status, msg := rig.deliver(t, actor, body)
			if status != tc.want {
				t.Fatalf("inbox answered %d (%s), want %d", status, msg, tc.want)
			}
			n, err := rig.db.CountInboxActivities(t.Context(), id+"/activity")
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != http.StatusAccepted {
				if n != 0 {
					t.Fatal("refused activity was stored")
				}
				return
			}
			if err := rig.process(t, id+"/activity"); err != nil {
				t.Fatal(err)
			}
			st, err := rig.db.StatusByURI(t.Context(), id)
			if err != nil || !strings.Contains(st.Content, `C:\u0000`) {
				t.Fatalf("status %+v (%v), want the text kept", st, err)
			}
		})
	}
}

// nulStore is the real store, except that it appends a NUL to every remote
// status's content: what reached PostgreSQL before the edge refused such
// text (activities stored by older versions), so the refusal is real.
type nulStore struct{ *postgres.DB }

func (s nulStore) InsertRemoteStatus(ctx context.Context, st *starling.Status, events ...starling.Event) (bool, error) {
	bad := *st
	bad.Content += "\x00"
	return s.DB.InsertRemoteStatus(ctx, &bad, events...)
}

// TestDataErrorsArePermanent: an activity PostgreSQL refuses for its data
// must not be retried forever.
func TestDataErrorsArePermanent(t *testing.T) {
	rig := newSamplesRig(t)
	const actor = "https://nul.example/users/n"
	rig.seedRemote(t, actor)
	id := actor + "/statuses/1"
	if status, msg := rig.deliver(t, actor, create(t, actor, note(actor, id, nil))); status != http.StatusAccepted {
		t.Fatalf("inbox answered %d: %s", status, msg)
	}
	aid, err := rig.db.InboxActivityIDByURI(t.Context(), id+"/activity")
	if err != nil {
		t.Fatal(err)
	}
	proc := rig.newProcessor()
	proc.Store = nulStore{rig.db}
	err = proc.Process(t.Context(), aid)
	if err == nil {
		t.Fatal("PostgreSQL accepted a NUL")
	}
	if !queue.IsPermanent(err) {
		t.Fatalf("error %v is retried; want it permanent", err)
	}
}

// TestReplyFetchesItsThread: the parents of a reply to unknown posts are
// fetched from their origin, up to five, and stored as statuses; a parent
// that cannot be had does not fail the reply.
func TestReplyFetchesItsThread(t *testing.T) {
	rig := newSamplesRig(t)
	const (
		replier = "https://r.example/users/r"
		op      = "https://op.example/users/op"
	)
	parent := func(i int) string { return fmt.Sprintf("%s/statuses/%d", op, i) }
	t.Run("bounded depth", func(t *testing.T) {
		rig.reset(t)
		rig.seedRemote(t, replier)
		rig.seedRemote(t, op)
		// A thread of eight: 1 replies to 2, which replies to 3, and so on.
		for i := 1; i <= 8; i++ {
			rig.origin.serve(parent(i), mustJSON(t, note(op, parent(i), map[string]any{
				"content": fmt.Sprintf("<p>post %d</p>", i), "inReplyTo": parent(i + 1)})))
		}
		id := replier + "/statuses/reply"
		reply := note(replier, id, map[string]any{"inReplyTo": parent(1)})
		if err := rig.deliverAndProcess(t, replier, create(t, replier, reply), id+"/activity"); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 8; i++ {
			_, err := rig.db.StatusByURI(t.Context(), parent(i))
			if want := i <= inbox.DefaultContextDepth; want != (err == nil) {
				t.Errorf("ancestor %d stored = %v (%v), want %v", i, err == nil, err, want)
			}
		}
		st, err := rig.db.StatusByURI(t.Context(), parent(1))
		if err == nil && (st.Account.URI != op || !strings.Contains(st.Content, "post 1")) {
			t.Errorf("parent stored as %+v", st)
		}
		if !rig.origin.signed {
			t.Error("fetches were not signed")
		}
	})
	t.Run("parent unavailable", func(t *testing.T) {
		rig.reset(t)
		rig.seedRemote(t, replier)
		rig.origin.fail(parent(1), http.StatusInternalServerError)
		id := replier + "/statuses/reply"
		reply := note(replier, id, map[string]any{"inReplyTo": parent(1)})
		if err := rig.deliverAndProcess(t, replier, create(t, replier, reply), id+"/activity"); err != nil {
			t.Fatalf("the reply failed with its parent: %v", err)
		}
		if _, err := rig.db.StatusByURI(t.Context(), id); err != nil {
			t.Fatalf("reply not stored: %v", err)
		}
	})
	t.Run("rate per host", func(t *testing.T) {
		rig.reset(t)
		rig.seedRemote(t, replier)
		rig.seedRemote(t, op)
		proc := rig.newProcessor()
		proc.FetchesPerHost = 2
		for i := 1; i <= 8; i++ {
			rig.origin.serve(parent(i), mustJSON(t, note(op, parent(i), map[string]any{"inReplyTo": parent(i + 1)})))
		}
		id := replier + "/statuses/reply"
		if status, msg := rig.deliver(t, replier, create(t, replier, note(replier, id, map[string]any{"inReplyTo": parent(1)}))); status != http.StatusAccepted {
			t.Fatalf("inbox answered %d: %s", status, msg)
		}
		aid, _ := rig.db.InboxActivityIDByURI(t.Context(), id+"/activity")
		if err := proc.Process(t.Context(), aid); err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := 1; i <= 8; i++ {
			n += rig.origin.fetches(parent(i))
		}
		if n != 2 {
			t.Errorf("%d fetches from op.example, want the limit of 2", n)
		}
	})
}

// TestBoostOfUnknownStatus: the boosted status is fetched from its origin
// once, stored as its author's, and the boost recorded.
func TestBoostOfUnknownStatus(t *testing.T) {
	rig := newSamplesRig(t)
	const (
		author  = "https://au.example/users/au"
		booster = "https://bo.example/users/bo"
		other   = "https://ot.example/users/ot"
	)
	orig := author + "/statuses/1"
	boost := func(actor string) {
		t.Helper()
		id := actor + "/boosts/1"
		body := mustJSON(t, map[string]any{"id": id, "type": "Announce", "actor": actor, "object": orig,
			"to": []string{activitypub.Public}, "published": "2026-01-02T03:04:05Z"})
		if err := rig.deliverAndProcess(t, actor, body, id); err != nil {
			t.Fatal(err)
		}
	}
	a := rig.seedRemote(t, author)
	b := rig.seedRemote(t, booster)
	o := rig.seedRemote(t, other)
	rig.origin.serve(orig, mustJSON(t, note(author, orig, map[string]any{"content": "<p>boost me</p>"})))
	boost(booster)
	boost(other)
	st, err := rig.db.StatusByURI(t.Context(), orig)
	if err != nil {
		t.Fatalf("boosted status not stored: %v", err)
	}
	if st.AccountID != a.ID || !strings.Contains(st.Content, "boost me") {
		t.Errorf("stored %+v, want author's post", st)
	}
	for _, who := range []*starling.Account{b, o} {
		if _, err := rig.db.LiveReblog(t.Context(), who.ID, st.ID); err != nil {
			t.Errorf("boost by %s not recorded: %v", who.URI, err)
		}
	}
	if n := rig.origin.fetches(orig); n != 1 {
		t.Errorf("boosted status fetched %d times, want once", n)
	}
}

// TestConcurrentBoostsFetchOnce: boosts of one unknown post processed at
// once, from a slow origin, share one fetch, and every boost is recorded.
func TestConcurrentBoostsFetchOnce(t *testing.T) {
	rig := newSamplesRig(t)
	const author = "https://au.example/users/au"
	orig := author + "/statuses/1"
	rig.seedRemote(t, author)
	rig.origin.serve(orig, mustJSON(t, note(author, orig, nil)))
	var ids []int64
	for i := range 4 {
		booster := fmt.Sprintf("https://b%d.example/users/b", i)
		rig.seedRemote(t, booster)
		id := booster + "/boosts/1"
		body := mustJSON(t, map[string]any{"id": id, "type": "Announce", "actor": booster, "object": orig,
			"to": []string{activitypub.Public}})
		if status, msg := rig.deliver(t, booster, body); status != http.StatusAccepted {
			t.Fatalf("inbox answered %d: %s", status, msg)
		}
		aid, err := rig.db.InboxActivityIDByURI(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aid)
	}
	rig.origin.mu.Lock()
	rig.origin.delay = 300 * time.Millisecond
	rig.origin.mu.Unlock()
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() { errs <- rig.processor.Process(context.WithoutCancel(t.Context()), id) }()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Errorf("process: %v", err)
		}
	}
	if n := rig.origin.fetches(orig); n != 1 {
		t.Errorf("fetched %d times, want once", n)
	}
}

// TestReactionsCountAsFavourites: Misskey's Like with a reaction and
// Pleroma's EmojiReact are favourites that keep their emoji.
func TestReactionsCountAsFavourites(t *testing.T) {
	rig := newSamplesRig(t)
	const author = "https://au.example/users/au"
	for _, tc := range []struct {
		name, actor string
		act         map[string]any
		want        string
	}{
		{"misskey like with _misskey_reaction", "https://mk.example/users/m",
			map[string]any{"type": "Like", "_misskey_reaction": "🍮", "content": "🍮"}, "🍮"},
		{"misskey like, reaction only", "https://mk.example/users/m",
			map[string]any{"type": "Like", "_misskey_reaction": ":blobcat:"}, ":blobcat:"},
		{"pleroma EmojiReact", "https://pl.example/users/p",
			map[string]any{"type": "EmojiReact", "content": "👍"}, "👍"},
		{"plain like", "https://ma.example/users/m", map[string]any{"type": "Like"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig.reset(t)
			a := rig.seedRemote(t, author)
			who := rig.seedRemote(t, tc.actor)
			st := &starling.Status{ID: starling.NewID(time.Now()), URI: author + "/statuses/1", URL: author + "/statuses/1",
				AccountID: a.ID, Content: "<p>x</p>", Visibility: starling.VisibilityPublic, CreatedAt: time.Now()}
			if _, err := rig.db.InsertRemoteStatus(t.Context(), st); err != nil {
				t.Fatal(err)
			}
			act := map[string]any{"id": tc.actor + "/reactions/1", "actor": tc.actor, "object": st.URI}
			for k, v := range tc.act {
				act[k] = v
			}
			if err := rig.deliverAndProcess(t, tc.actor, mustJSON(t, act), tc.actor+"/reactions/1"); err != nil {
				t.Fatal(err)
			}
			fav, err := rig.db.FavouriteOf(t.Context(), who.ID, st.ID)
			if err != nil {
				t.Fatalf("no favourite: %v", err)
			}
			if fav.Emoji != tc.want {
				t.Errorf("emoji %q, want %q", fav.Emoji, tc.want)
			}
			// Its Undo takes it back.
			undo := mustJSON(t, map[string]any{"id": tc.actor + "/undo/1", "type": "Undo", "actor": tc.actor, "object": act})
			if err := rig.deliverAndProcess(t, tc.actor, undo, tc.actor+"/undo/1"); err != nil {
				t.Fatal(err)
			}
			if _, err := rig.db.FavouriteOf(t.Context(), who.ID, st.ID); !errors.Is(err, starling.ErrNotFound) {
				t.Errorf("favourite still there after Undo (%v)", err)
			}
		})
	}
}

// TestRemoteMentionsAndHashtags: a remote status's Mention and Hashtag tags
// (not its HTML, which Misskey and Lemmy do not mark up) are what notify
// the local account mentioned and what the tag timeline lists, end to end:
// inbox, timeline builder, API.
func TestRemoteMentionsAndHashtags(t *testing.T) {
	rig := newSamplesRig(t)
	const actor = "https://mk.example/users/m"
	author := rig.seedRemote(t, actor)
	local, token := rig.reader(t, nil, "https://starling.test/users/alice")
	id := actor + "/notes/1"
	obj := note(actor, id, map[string]any{
		"content": "<p>@alice look at this fediverse thing</p>",
		"tag": []any{
			map[string]any{"type": "Mention", "href": local.URI, "name": "@alice@starling.test"},
			map[string]any{"type": "Hashtag", "href": "https://mk.example/tags/Fediverse", "name": "#Fediverse"},
		},
	})
	if err := rig.deliverAndProcess(t, actor, create(t, actor, obj), id+"/activity"); err != nil {
		t.Fatal(err)
	}
	sid, err := rig.db.StatusIDByURI(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(queue.TimelineEvent{StatusID: sid})
	if err := rig.builder.Apply(t.Context(), queue.StatusCreated, ev); err != nil {
		t.Fatal(err)
	}
	var notes []struct {
		Type    string `json:"type"`
		Account struct {
			ID string `json:"id"`
		} `json:"account"`
		Status *apiStatus `json:"status"`
	}
	if status := rig.apiGet(t, token, "/api/v1/notifications", &notes); status != http.StatusOK {
		t.Fatalf("notifications: %d", status)
	}
	if len(notes) != 1 || notes[0].Type != "mention" || notes[0].Account.ID != fmt.Sprint(author.ID) ||
		notes[0].Status == nil || notes[0].Status.URI != id {
		t.Errorf("notifications %+v, want one mention of the status by its author", notes)
	}
	var tagged []apiStatus
	if status := rig.apiGet(t, token, "/api/v1/timelines/tag/fediverse", &tagged); status != http.StatusOK {
		t.Fatalf("tag timeline: %d", status)
	}
	if len(tagged) != 1 || tagged[0].URI != id {
		t.Errorf("tag timeline #fediverse: %+v, want the status", tagged)
	}
}

// TestRemoteEditIsSanitisedAndReindexed: an Update of a Note is new
// content, cleaned as a Create's is (an edit must not smuggle in what the
// Create could not), and its tag property replaces the old one, so the
// tag timelines follow the edit.
func TestRemoteEditIsSanitisedAndReindexed(t *testing.T) {
	rig := newSamplesRig(t)
	const actor = "https://edit.example/users/e"
	rig.seedRemote(t, actor)
	_, token := rig.reader(t, nil, "")
	id := actor + "/notes/1"
	obj := note(actor, id, map[string]any{
		"content": "<p>first #Before</p>",
		"tag":     map[string]any{"type": "Hashtag", "href": "https://edit.example/tags/before", "name": "#Before"},
	})
	if err := rig.deliverAndProcess(t, actor, create(t, actor, obj), id+"/activity"); err != nil {
		t.Fatal(err)
	}
	sid, err := rig.db.StatusIDByURI(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(queue.TimelineEvent{StatusID: sid})
	if err := rig.builder.Apply(t.Context(), queue.StatusCreated, ev); err != nil {
		t.Fatal(err)
	}

	edited := note(actor, id, map[string]any{
		"content": `<p onclick="alert(1)">second <script>alert(1)</script>#After</p>`,
		"summary": "<b>cw</b>",
		"updated": "2026-01-02T04:00:00Z",
		"tag":     map[string]any{"type": "Hashtag", "href": "https://edit.example/tags/after", "name": "#After"},
	})
	update := mustJSON(t, map[string]any{
		"@context": activitypub.ActivityStreamsNS, "id": id + "#updates/1", "type": "Update",
		"actor": actor, "to": edited["to"], "cc": edited["cc"], "object": edited,
	})
	if err := rig.deliverAndProcess(t, actor, update, id+"#updates/1"); err != nil {
		t.Fatal(err)
	}
	if err := rig.builder.Apply(t.Context(), queue.StatusUpdated, ev); err != nil {
		t.Fatal(err)
	}
	var got apiStatus
	if status := rig.apiGet(t, token, fmt.Sprintf("/api/v1/statuses/%d", sid), &got); status != http.StatusOK {
		t.Fatalf("GET status: %d", status)
	}
	if !strings.Contains(got.Content, "second") || len(safeHTML(got.Content)) > 0 || strings.Contains(got.Content, "alert") {
		t.Errorf("edited content %q: want the new text, cleaned (%v)", got.Content, safeHTML(got.Content))
	}
	if got.SpoilerText != "cw" {
		t.Errorf("edited spoiler_text %q, want %q", got.SpoilerText, "cw")
	}
	for tag, want := range map[string]int{"after": 1, "before": 0} {
		var tagged []apiStatus
		if status := rig.apiGet(t, token, "/api/v1/timelines/tag/"+tag, &tagged); status != http.StatusOK {
			t.Fatalf("tag timeline: %d", status)
		}
		if len(tagged) != want {
			t.Errorf("#%s timeline has %d statuses after the edit, want %d", tag, len(tagged), want)
		}
	}
}

// TestLanguageAndEmojis: a status keeps the language its contentMap names
// and the custom emojis its Emoji tags define (as Mastodon shows them);
// an emoji whose image is not an http(s) link is dropped.
func TestLanguageAndEmojis(t *testing.T) {
	rig := newSamplesRig(t)
	const actor = "https://emoji.example/users/e"
	rig.seedRemote(t, actor)
	_, token := rig.reader(t, nil, "")
	id := actor + "/notes/1"
	content := "<p>Hallo :blobcat: :evil:</p>"
	obj := note(actor, id, map[string]any{
		"content":    content,
		"contentMap": map[string]any{"de": content},
		"tag": []any{
			map[string]any{"type": "Emoji", "name": ":blobcat:", "icon": map[string]any{"type": "Image", "url": "https://emoji.example/blobcat.png"}},
			map[string]any{"type": "Emoji", "name": ":evil:", "icon": map[string]any{"type": "Image", "url": "javascript:alert(1)"}},
		},
	})
	if err := rig.deliverAndProcess(t, actor, create(t, actor, obj), id+"/activity"); err != nil {
		t.Fatal(err)
	}
	sid, err := rig.db.StatusIDByURI(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Language *string `json:"language"`
		Emojis   []struct {
			Shortcode string `json:"shortcode"`
			URL       string `json:"url"`
			StaticURL string `json:"static_url"`
		} `json:"emojis"`
	}
	if status := rig.apiGet(t, token, fmt.Sprintf("/api/v1/statuses/%d", sid), &got); status != http.StatusOK {
		t.Fatalf("GET status: %d", status)
	}
	if got.Language == nil || *got.Language != "de" {
		t.Errorf("language %v, want de", got.Language)
	}
	if len(got.Emojis) != 1 || got.Emojis[0].Shortcode != "blobcat" || got.Emojis[0].URL != "https://emoji.example/blobcat.png" ||
		got.Emojis[0].StaticURL == "" {
		t.Errorf("emojis %+v, want blobcat alone", got.Emojis)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
