package federation

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/signature"
	"github.com/starling-social/starling/store/storetest"
)

// Mastodon's "acct: keyId" case through the real resolver: the key is found
// by WebFinger, and the request verifies with Mastodon's verdict.
func TestResolver_AcctKeyID(t *testing.T) {
	var vectors mastodonVectors
	sigTestJSON(t, mastodonVectorsPath, &vectors)
	pubPEM := string(sigTestReadFile(t, bobPubPath))

	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/webfinger":
			if r.URL.Query().Get("resource") != "acct:bob@"+strings.TrimPrefix(base, "http://") {
				http.NotFound(w, r)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"links": []map[string]string{
				{"rel": "self", "type": activitypub.ContentType, "href": base + "/users/bob"}}})
		case "/users/bob":
			_ = json.NewEncoder(w).Encode(activitypub.Actor{ID: base + "/users/bob", Type: "Person", PreferredUsername: "bob",
				Inbox:     base + "/users/bob/inbox",
				PublicKey: &activitypub.PublicKey{ID: base + "/users/bob#main-key", Owner: base + "/users/bob", PublicKeyPEM: pubPEM}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	base = srv.URL
	host := strings.TrimPrefix(base, "http://")
	res := &Resolver{Store: storetest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http"}

	for _, c := range vectors.Cases {
		if !strings.Contains(c.Headers["Signature"], `keyId="acct:`) {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			r := httptest.NewRequest(c.Method, c.Path, nil)
			for k, v := range c.Headers {
				if k == "Host" {
					r.Host = v
					continue
				}
				r.Header.Set(k, strings.Replace(v, "acct:bob@remote.domain", "acct:bob@"+host, 1))
			}
			// The signature does not cover the keyId, so pointing it at
			// the test server keeps it valid.
			now, _ := time.Parse(time.RFC3339, strings.Fields(vectors.Clock)[0])
			v, err := signature.VerifyRequest(t.Context(), r, nil, now, res.KeyLookup)
			if err != nil || !strings.HasPrefix(c.MastodonExpects, "valid") {
				t.Fatalf("err %v; Mastodon expects %q", err, c.MastodonExpects)
			}
			if v.Owner != base+"/users/bob" {
				t.Errorf("owner %q", v.Owner)
			}
		})
	}
	if _, _, err := res.KeyLookup(t.Context(), "acct:nobody", false); err == nil {
		t.Error("acct: without a host resolved")
	}
}

// TestResolver_KeyStub: the document at a key id need not be the actor.
// GoToSocial's key id has no fragment (/users/gary/main-key) and answers
// with a stub of the actor (no inbox); others serve a bare key with its
// owner or controller. As Mastodon does, the resolver then fetches the
// actor the document names, on the same host, and requires that actor to
// list the key.
func TestResolver_KeyStub(t *testing.T) {
	pubPEM := string(sigTestReadFile(t, bobPubPath))
	var base string
	docs := map[string]func() any{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", activitypub.ContentType)
		_ = json.NewEncoder(w).Encode(doc())
	}))
	defer srv.Close()
	base = srv.URL
	actor := func(name, keyID string) func() any {
		return func() any {
			return activitypub.Actor{ID: base + "/users/" + name, Type: "Person", PreferredUsername: name, Inbox: base + "/users/" + name + "/inbox",
				PublicKey: &activitypub.PublicKey{ID: base + keyID, Owner: base + "/users/" + name, PublicKeyPEM: pubPEM}}
		}
	}
	stub := func(id, keyID string) func() any {
		return func() any {
			return map[string]any{"id": base + id, "type": "Person", "preferredUsername": "x",
				"publicKey": map[string]string{"id": base + keyID, "owner": base + id, "publicKeyPem": pubPEM}}
		}
	}
	// gary: GoToSocial. kim: a bare key with an owner. lee: with a controller.
	docs["/users/gary"] = actor("gary", "/users/gary/main-key")
	docs["/users/gary/main-key"] = stub("/users/gary", "/users/gary/main-key")
	docs["/users/kim"] = actor("kim", "/keys/kim")
	docs["/keys/kim"] = func() any {
		return map[string]string{"id": base + "/keys/kim", "owner": base + "/users/kim", "publicKeyPem": pubPEM}
	}
	docs["/users/lee"] = actor("lee", "/keys/lee")
	docs["/keys/lee"] = func() any {
		return map[string]string{"id": base + "/keys/lee", "controller": base + "/users/lee", "publicKeyPem": pubPEM}
	}
	docs["/users/bob"] = actor("bob", "/users/bob#main-key")
	// Stubs that must not resolve: an actor that does not list the key, an
	// owner on another host, a stub that is its own id, a stub about
	// another key.
	docs["/users/liar/main-key"] = stub("/users/gary", "/users/liar/main-key")
	docs["/keys/far"] = func() any {
		return map[string]string{"id": base + "/keys/far", "owner": "https://elsewhere.example/users/x", "publicKeyPem": pubPEM}
	}
	docs["/users/half"] = stub("/users/half", "/users/half#main-key")
	docs["/users/other/main-key"] = stub("/users/gary", "/users/gary/main-key")

	tests := []struct {
		name, keyID, wantOwner string
	}{
		{"OKGoToSocialStub", "/users/gary/main-key", "/users/gary"},
		{"OKKeyOwner", "/keys/kim", "/users/kim"},
		{"OKKeyController", "/keys/lee", "/users/lee"},
		{"OKMastodonFragment", "/users/bob#main-key", "/users/bob"},
		{"ErrActorDoesNotListKey", "/users/liar/main-key", ""},
		{"ErrOwnerElsewhere", "/keys/far", ""},
		{"ErrIncompleteActor", "/users/half#main-key", ""},
		{"ErrStubOfAnotherKey", "/users/other/main-key", ""},
	}
	res := &Resolver{Store: storetest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, owner, err := res.KeyLookup(t.Context(), base+tt.keyID, false)
			if tt.wantOwner == "" {
				if err == nil {
					t.Fatalf("resolved to %s", owner)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if owner != base+tt.wantOwner || key == nil {
				t.Errorf("owner %q, want %q", owner, base+tt.wantOwner)
			}
			// Once stored, the key is found without a fetch, and a refresh
			// goes the same way.
			if _, owner, err := res.KeyLookup(t.Context(), base+tt.keyID, true); err != nil || owner != base+tt.wantOwner {
				t.Errorf("refresh: owner %q, err %v", owner, err)
			}
		})
	}
}

// TestResolver_SanitisesActor: what a remote actor says about itself is
// cleaned before it is stored, since clients render it as trusted.
func TestResolver_SanitisesActor(t *testing.T) {
	pubPEM := string(sigTestReadFile(t, bobPubPath))
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", activitypub.ContentType)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": base + "/users/eve", "type": "Person", "preferredUsername": "eve", "inbox": base + "/users/eve/inbox",
			"name":      "<b>Eve</b> <script>alert(1)</script>&amp; co\x00",
			"summary":   `<p onclick="x()">Hi <a href="javascript:alert(1)">there</a><script>alert(2)</script><iframe src="https://e.example"></iframe>` + "\xff</p>",
			"publicKey": map[string]string{"id": base + "/users/eve#main-key", "owner": base + "/users/eve", "publicKeyPem": pubPEM},
		})
	}))
	defer srv.Close()
	base = srv.URL
	res := &Resolver{Store: storetest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http"}
	a, err := res.Actor(t.Context(), base+"/users/eve", false)
	if err != nil {
		t.Fatal(err)
	}
	if a.DisplayName != "Eve & co" {
		t.Errorf("display name %q", a.DisplayName)
	}
	for _, bad := range []string{"script", "onclick", "javascript", "iframe", "alert", "\x00", "\xff"} {
		if strings.Contains(a.Note, bad) {
			t.Errorf("note %q keeps %q", a.Note, bad)
		}
	}
	if !strings.Contains(a.Note, "Hi") || !strings.Contains(a.Note, "there") {
		t.Errorf("note %q lost its text", a.Note)
	}
}
