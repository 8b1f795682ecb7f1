package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/signature"
)

// signedPost builds a POST of body to inbox, signed by keyID/key at now.
func signedPost(t *testing.T, inbox, keyID string, key crypto.PrivateKey, body []byte, now time.Time) *http.Request {
	t.Helper()
	req := must(http.NewRequest("POST", inbox, bytes.NewReader(body)))
	req.Header.Set("Content-Type", activitypub.ContentType)
	if err := signature.SignRequest(req, keyID, key, body, now); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestInboxRejectsBadSignatures posts a real Create by alice@A to B's shared
// inbox, broken in each way a forger or a buggy server might, and checks
// that B answers 401 and stores nothing; then that a good delivery sent
// twice stores one activity and one feed row.
func TestInboxRejectsBadSignatures(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	a.user("alice")
	bob := b.user("bob")
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))

	ctx := context.Background()
	alice := must(a.srv.Store.AccountByAcct(ctx, "alice", ""))
	aliceKey := signingKey(t, a.srv.Store, alice.ID)
	otherKey := must(rsa.GenerateKey(rand.Reader, 2048))
	inbox := b.base + "/inbox"

	n := 0
	// create returns a new Create by alice: its id, its Note's id and its body.
	create := func() (id, noteURI string, body []byte) {
		n++
		note := fmt.Sprintf("%s/statuses/%d", alice.URI, 1000+n)
		body = must(json.Marshal(map[string]any{
			"@context": activitypub.ActivityStreamsNS,
			"id":       note + "/activity",
			"type":     "Create",
			"actor":    alice.URI,
			"to":       []string{activitypub.Public},
			"object": map[string]any{
				"id": note, "type": "Note", "attributedTo": alice.URI,
				"content": fmt.Sprintf("<p>post %d</p>", n), "to": []string{activitypub.Public},
				"published": time.Now().UTC().Format(time.RFC3339),
			},
		}))
		return note + "/activity", note, body
	}

	cases := []struct {
		name  string
		build func(body []byte) *http.Request
	}{
		{"unsigned", func(body []byte) *http.Request {
			req := must(http.NewRequest("POST", inbox, bytes.NewReader(body)))
			req.Header.Set("Content-Type", activitypub.ContentType)
			req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
			return req
		}},
		{"tampered body", func(body []byte) *http.Request {
			req := signedPost(t, inbox, alice.KeyID, aliceKey, body, time.Now())
			tampered := bytes.Replace(body, []byte("post "), []byte("p0st "), 1)
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(tampered)), int64(len(tampered))
			return req
		}},
		{"stale date", func(body []byte) *http.Request {
			return signedPost(t, inbox, alice.KeyID, aliceKey, body, time.Now().Add(-2*time.Hour))
		}},
		{"digest not signed", func(body []byte) *http.Request {
			req := must(http.NewRequest("POST", inbox, bytes.NewReader(body)))
			req.Header.Set("Content-Type", activitypub.ContentType)
			// Sign as if there were no body, then add a correct but unsigned Digest.
			if err := signature.SignRequest(req, alice.KeyID, aliceKey, nil, time.Now()); err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Digest", "SHA-256="+sha256Base64(body))
			return req
		}},
		{"wrong key", func(body []byte) *http.Request {
			return signedPost(t, inbox, alice.KeyID, otherKey, body, time.Now())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, _, body := create()
			resp := must(http.DefaultClient.Do(tc.build(body)))
			var msg map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&msg)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || msg["error"] == "" {
				t.Errorf("status %d, error %q; want 401 with a JSON error", resp.StatusCode, msg["error"])
			}
			time.Sleep(100 * time.Millisecond)
			if got := must(b.srv.Store.CountInboxActivities(ctx, id)); got != 0 {
				t.Errorf("stored %d activities, want none", got)
			}
		})
	}

	t.Run("body over 1 MB", func(t *testing.T) {
		body := bytes.Repeat([]byte("x"), federation.MaxDocumentSize+1)
		resp := must(http.DefaultClient.Do(signedPost(t, inbox, alice.KeyID, aliceKey, body, time.Now())))
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
	})

	t.Run("replay stores nothing new", func(t *testing.T) {
		id, noteURI, body := create()
		for i := range 3 {
			resp := must(http.DefaultClient.Do(signedPost(t, inbox, alice.KeyID, aliceKey, body, time.Now())))
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("delivery %d: status %d, want 202", i+1, resp.StatusCode)
			}
		}
		waitFor(t, 5*time.Second, "the post in bob's feed", func() bool { return b.home(bob, noteURI) == 1 })
		time.Sleep(300 * time.Millisecond) // room for a duplicate to appear
		if got := must(b.srv.Store.CountInboxActivities(ctx, id)); got != 1 {
			t.Errorf("stored %d activities, want 1", got)
		}
		bobAcct := must(b.srv.Store.AccountByAcct(ctx, "bob", ""))
		st := must(b.srv.Store.StatusIDByURI(ctx, noteURI))
		if got := must(b.srv.Store.CountFeedEntries(ctx, bobAcct.ID, st)); got != 1 {
			t.Errorf("bob's feed has the post %d times, want 1", got)
		}
		if got := b.home(bob, noteURI); got != 1 {
			t.Errorf("bob's home timeline shows the post %d times, want 1", got)
		}
	})

	t.Run("key of another host is a forward, trusted as its origin serves it", func(t *testing.T) {
		// dora@A posts; carol@C delivers a Create of dora's post, signed
		// by carol, with words dora never wrote. B must not take carol's
		// word for dora: it fetches the post from A and keeps A's copy.
		c := startInstance(t, "C")
		c.user("carol")
		carol := must(c.srv.Store.AccountByAcct(ctx, "carol", ""))
		carolKey := signingKey(t, c.srv.Store, carol.ID)
		dora := a.user("dora")
		doraAcct := must(a.srv.Store.AccountByAcct(ctx, "dora", ""))
		var posted api.Status
		a.mustCall("POST", "/api/v1/statuses", dora, url.Values{"status": {"what dora wrote"}}, &posted)
		forged := must(json.Marshal(map[string]any{
			"@context": activitypub.ActivityStreamsNS, "id": posted.URI + "/forwarded", "type": "Create",
			"actor": doraAcct.URI, "to": []string{activitypub.Public},
			"object": map[string]any{"id": posted.URI, "type": "Note", "attributedTo": doraAcct.URI,
				"content": "<p>what carol says dora wrote</p>", "to": []string{activitypub.Public}},
		}))
		resp := must(http.DefaultClient.Do(signedPost(t, inbox, carol.KeyID, carolKey, forged, time.Now())))
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, want 202", resp.StatusCode)
		}
		var st *starling.Status
		waitFor(t, 10*time.Second, "the forwarded post on B", func() bool {
			s, err := b.srv.Store.StatusByURI(ctx, posted.URI)
			st = s
			return err == nil
		})
		if !strings.Contains(st.Content, "what dora wrote") || strings.Contains(st.Content, "carol") {
			t.Errorf("B stored %q, want A's copy", st.Content)
		}
	})
}

// TestRejectEndsFollowAndUnmerges: alice@A rejects bob's (accepted) follow
// after bob has her post in his feed; B ends the follow and takes her
// entries out of bob's feed, in one transaction.
func TestRejectEndsFollowAndUnmerges(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	aliceToken := a.user("alice")
	bob := b.user("bob")
	aliceID := b.resolve(bob, "alice@"+a.cfg.Domain)
	b.follow(bob, aliceID)

	var post struct {
		URI string `json:"uri"`
	}
	a.mustCall("POST", "/api/v1/statuses", aliceToken, url.Values{"status": {"soon gone from bob's feed"}}, &post)
	waitFor(t, 5*time.Second, "the post in bob's feed", func() bool { return b.home(bob, post.URI) == 1 })

	ctx := context.Background()
	alice := must(a.srv.Store.AccountByAcct(ctx, "alice", ""))
	bobAcct := must(b.srv.Store.AccountByAcct(ctx, "bob", ""))
	aliceOnB := must(b.srv.Store.AccountByURI(ctx, alice.URI))
	f := must(b.srv.Store.FollowBetween(ctx, bobAcct.ID, aliceOnB.ID))
	body := must(json.Marshal(map[string]any{
		"@context": activitypub.ActivityStreamsNS,
		"id":       alice.URI + "#rejects/1",
		"type":     "Reject",
		"actor":    alice.URI,
		"object":   map[string]any{"id": f.URI, "type": "Follow", "actor": bobAcct.URI, "object": alice.URI},
	}))
	key := signingKey(t, a.srv.Store, alice.ID)
	resp := must(http.DefaultClient.Do(signedPost(t, b.base+"/inbox", alice.KeyID, key, body, time.Now())))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("Reject: status %d", resp.StatusCode)
	}
	waitFor(t, 5*time.Second, "the post to leave bob's feed", func() bool { return b.home(bob, post.URI) == 0 })
	var rels []api.Relationship
	b.mustCall("GET", "/api/v1/accounts/relationships?id[]="+aliceID, bob, nil, &rels)
	if len(rels) != 1 || rels[0].Following || rels[0].Requested {
		t.Errorf("after the Reject: %+v", rels)
	}
}
