package federation

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/sanitize"
	"github.com/starling-social/starling/signature"
	"github.com/starling-social/starling/store/postgres/pgtest"
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
	res := &Resolver{Store: pgtest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http"}

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
	res := &Resolver{Store: pgtest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http"}
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
	res := &Resolver{Store: pgtest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http"}
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

// TestResolver_ProfileFields: an actor's PropertyValue attachments become
// its profile fields, in every shape servers send them (one object or an
// array, types and the value prefixed with schema.org's namespace), cleaned
// (names as text, values as HTML) and bounded; other attachments are not
// fields. An Update of the actor replaces them.
func TestResolver_ProfileFields(t *testing.T) {
	pubPEM := string(sigTestReadFile(t, bobPubPath))
	var base string
	attachments := map[string]string{} // username → raw attachment JSON
	actor := func(name string) map[string]any {
		doc := map[string]any{
			"id": base + "/users/" + name, "type": "Person", "preferredUsername": name, "inbox": base + "/users/" + name + "/inbox",
			"publicKey": map[string]string{"id": base + "/users/" + name + "#main-key", "owner": base + "/users/" + name, "publicKeyPem": pubPEM},
		}
		if raw := attachments[name]; raw != "" {
			doc["attachment"] = json.RawMessage(raw)
		}
		return doc
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", activitypub.ContentType)
		_ = json.NewEncoder(w).Encode(actor(strings.TrimPrefix(r.URL.Path, "/users/")))
	}))
	defer srv.Close()
	base = srv.URL

	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf(`{"type":"PropertyValue","name":"f%d","value":"v%d"}`, i, i)
	}
	long := strings.Repeat("é", MaxFieldValueBytes) // two bytes each
	const link = `<a href="https://m.example/@a" target="_blank" rel="nofollow noopener noreferrer me">m.example/@a</a>`
	tests := []struct {
		name, attachment string
		want             []starling.Field
	}{
		{"OKNone", ``, []starling.Field{}},
		{"OKMastodon", `[{"type":"PropertyValue","name":"Pronouns","value":"she/her"},
			{"type":"PropertyValue","name":"Home","value":"` + strings.ReplaceAll(link, `"`, `\"`) + `"}]`,
			[]starling.Field{{Name: "Pronouns", Value: "she/her"},
				{Name: "Home", Value: `<a href="https://m.example/@a" rel="nofollow noopener noreferrer me" target="_blank">m.example/@a</a>`}}},
		{"OKSingleObject", `{"type":"PropertyValue","name":"Alone","value":"yes"}`,
			[]starling.Field{{Name: "Alone", Value: "yes"}}},
		{"OKPrefixedTypes", `[{"type":"schema:PropertyValue","name":"a","schema:value":"1"},
			{"type":["Object","http://schema.org#PropertyValue"],"name":"b","value":"2"},
			{"type":"https://schema.org/PropertyValue","name":"c","http://schema.org#value":"3"}]`,
			[]starling.Field{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}, {Name: "c", Value: "3"}}},
		{"OKOtherAttachmentsIgnored", `["https://m.example/proof", {"type":"Link","name":"x","href":"https://m.example"},
			{"type":"IdentityProof","name":"kb","signatureValue":"s"}, {"type":"PropertyValue","name":"n","value":42},
			{"name":"untyped","value":"v"}, {"type":"PropertyValue","name":"","value":""}, {"type":"PropertyValue","name":"kept","value":"v"}]`,
			[]starling.Field{{Name: "kept", Value: "v"}}},
		{"OKHostileCleaned", `[{"type":"PropertyValue","name":"<b>Site</b><script>alert(1)</script> &lt;i&gt;","value":"<a href=\"javascript:alert(1)\" onclick=\"alert(2)\">go</a><script>alert(3)</script><iframe src=\"https://e.example\"></iframe><img src=x onerror=alert(4)>\u0000"}]`,
			[]starling.Field{{Name: "Site ‹i›", Value: "go"}}},
		{"OKBounded", `[` + strings.Join(many, ",") + `]`, func() []starling.Field {
			var fs []starling.Field
			for i := range MaxProfileFields {
				fs = append(fs, starling.Field{Name: fmt.Sprintf("f%d", i), Value: fmt.Sprintf("v%d", i)})
			}
			return fs
		}()},
		// Cut at 2048 bytes: "<b>" and 1022 two-byte runes (the sanitiser
		// does not close the <b>; clients parse values as fragments).
		{"OKLongValueClippedAtRune", `{"type":"PropertyValue","name":"long","value":"<b>` + long + `</b>"}`,
			[]starling.Field{{Name: "long", Value: "<b>" + long[:MaxFieldValueBytes-4]}}},
		{"OKTagCutInTwoDropped", `{"type":"PropertyValue","name":"cut","value":"ok ` + strings.Repeat("x", MaxFieldValueBytes-20) + ` <a href=\"https://m.example/abcdefgh\">link</a>"}`,
			[]starling.Field{{Name: "cut", Value: "ok " + strings.Repeat("x", MaxFieldValueBytes-20)}}},
	}
	res := &Resolver{Store: pgtest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"},
		Scheme: "http", Sanitizer: sanitize.New()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			username := strings.ToLower(tt.name)
			attachments[username] = tt.attachment
			a, err := res.Actor(t.Context(), base+"/users/"+username, false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Fields, tt.want) {
				t.Errorf("fields\n got %q\nwant %q", a.Fields, tt.want)
			}
		})
	}

	// An Update carries the whole document: its fields replace the old ones.
	t.Run("OKUpdateReplaces", func(t *testing.T) {
		attachments["okmastodon"] = `{"type":"PropertyValue","name":"New","value":"<p>only</p>"}`
		raw, _ := json.Marshal(actor("okmastodon"))
		a, err := res.UpdateActor(t.Context(), base+"/users/okmastodon", raw)
		if err != nil {
			t.Fatal(err)
		}
		if want := []starling.Field{{Name: "New", Value: "<p>only</p>"}}; !slices.Equal(a.Fields, want) {
			t.Errorf("fields after the Update %q, want %q", a.Fields, want)
		}
	})
}

// TestResolver_ProfileURL: clients link an account's name to its url, so
// only an http(s) url on the actor's own host is kept, as on Mastodon;
// anything else falls back to the actor's id.
func TestResolver_ProfileURL(t *testing.T) {
	pubPEM := string(sigTestReadFile(t, bobPubPath))
	var base string
	urls := map[string]any{} // username → url property
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/users/")
		doc := map[string]any{
			"id": base + r.URL.Path, "type": "Person", "preferredUsername": name, "inbox": base + r.URL.Path + "/inbox",
			"publicKey": map[string]string{"id": base + r.URL.Path + "#main-key", "owner": base + r.URL.Path, "publicKeyPem": pubPEM},
		}
		if u, ok := urls[name]; ok {
			doc["url"] = u
		}
		w.Header().Set("Content-Type", activitypub.ContentType)
		_ = json.NewEncoder(w).Encode(doc)
	}))
	defer srv.Close()
	base = srv.URL
	tests := []struct {
		name string
		url  func() any
		want func() string // "" for the actor's id
	}{
		{"OKSameHost", func() any { return base + "/@oksamehost" }, func() string { return base + "/@oksamehost" }},
		{"OKLinkArray", func() any {
			return []map[string]string{{"type": "Link", "mediaType": "text/html", "href": base + "/@oklinkarray"}}
		}, func() string { return base + "/@oklinkarray" }},
		{"OKNone", nil, func() string { return "" }},
		{"ErrJavaScript", func() any { return "javascript:alert(document.domain)" }, func() string { return "" }},
		{"ErrData", func() any { return "data:text/html,<script>alert(1)</script>" }, func() string { return "" }},
		{"ErrOtherHost", func() any { return "https://bank.example/@victim" }, func() string { return "" }},
	}
	res := &Resolver{Store: pgtest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"},
		Scheme: "http", Sanitizer: sanitize.New()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ToLower(tt.name)
			if tt.url != nil {
				urls[name] = tt.url()
			}
			a, err := res.Actor(t.Context(), base+"/users/"+name, false)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want()
			if want == "" {
				want = a.URI
			}
			if a.URL != want {
				t.Errorf("url %q, want %q", a.URL, want)
			}
		})
	}
}

func TestPageURL(t *testing.T) {
	const id = "https://a.example/objects/1"
	tests := []struct{ name, url, want string }{
		{"OKSameHost", "https://a.example/@u/1", "https://a.example/@u/1"},
		{"OKHTTP", "http://a.example/@u/1", "http://a.example/@u/1"},
		{"ErrEmpty", "", id},
		{"ErrJavaScript", "javascript:alert(1)", id},
		{"ErrJavaScriptUpper", "JAVASCRIPT:alert(1)", id},
		{"ErrData", "data:text/html,x", id},
		{"ErrRelative", "/@u/1", id},
		{"ErrOtherHost", "https://b.example/@u/1", id},
		{"ErrNUL", "https://a.example/\x00", id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PageURL(tt.url, id); got != tt.want {
				t.Errorf("PageURL(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

// TestResolver_Usernames: an actor whose preferredUsername carries markup,
// an '@', spaces or control characters is refused; the names real servers
// use (dots, dashes, a host with its port for an instance actor, other
// scripts) are stored.
func TestResolver_Usernames(t *testing.T) {
	pubPEM := string(sigTestReadFile(t, bobPubPath))
	var base string
	names := map[string]string{} // path → preferredUsername
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", activitypub.ContentType)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": base + r.URL.Path, "type": "Person", "preferredUsername": names[r.URL.Path], "inbox": base + r.URL.Path + "/inbox",
			"publicKey": map[string]string{"id": base + r.URL.Path + "#main-key", "owner": base + r.URL.Path, "publicKeyPem": pubPEM},
		})
	}))
	defer srv.Close()
	base = srv.URL
	tests := []struct {
		name, username string
		ok             bool
	}{
		{"OKPlain", "gary", true},
		{"OKDotsAndDashes", "jean.luc-picard_2", true},
		{"OKInstanceActorOnAPort", "127.0.0.1:8080", true},
		{"OKOtherScript", "名前", true},
		{"ErrScript", "<script>alert(1)</script>", false},
		{"ErrAttribute", `x" onmouseover="alert(1)`, false},
		{"ErrAt", "alice@bank.example", false},
		{"ErrSpace", "two words", false},
		{"ErrControl", "bell\a", false},
		{"ErrEntity", "&lt;b&gt;", false},
	}
	res := &Resolver{Store: pgtest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"},
		Scheme: "http", Sanitizer: sanitize.New()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/users/" + strings.ToLower(tt.name)
			names[path] = tt.username
			a, err := res.Actor(t.Context(), base+path, false)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.ok && a.Username != tt.username:
				t.Errorf("stored as %q", a.Username)
			case !tt.ok && err == nil:
				t.Errorf("stored %q", a.Username)
			}
		})
	}
}

// TestResolver_KeyRefetchLimited: a known key is fetched again after a
// failed signature at most once per KeyRefetchInterval (Mastodon's rule),
// so a flood of badly signed requests is not a flood of fetches.
func TestResolver_KeyRefetchLimited(t *testing.T) {
	pubPEM := string(sigTestReadFile(t, bobPubPath))
	var base string
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", activitypub.ContentType)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": base + "/users/eve", "type": "Person", "preferredUsername": "eve", "inbox": base + "/users/eve/inbox",
			"publicKey": map[string]string{"id": base + "/users/eve#main-key", "owner": base + "/users/eve", "publicKeyPem": pubPEM},
		})
	}))
	defer srv.Close()
	base = srv.URL
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	res := &Resolver{Store: pgtest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http",
		Now: func() time.Time { return now }}
	for _, step := range []struct {
		refresh bool
		advance time.Duration
		want    int32 // fetches so far
	}{
		{false, 0, 1},                     // first sight: fetched
		{false, 0, 1},                     // known: from the store
		{true, 0, 2},                      // a signature failed: refetched once
		{true, time.Second, 2},            // again at once: the stored key stands
		{true, 4 * time.Minute, 2},        // still within five minutes
		{true, KeyRefetchInterval + 1, 3}, // after five minutes: once more
	} {
		now = now.Add(step.advance)
		if _, _, err := res.KeyLookup(t.Context(), base+"/users/eve#main-key", step.refresh); err != nil {
			t.Fatal(err)
		}
		if got := fetches.Load(); got != step.want {
			t.Errorf("after lookup (refresh %v, +%s): %d fetches, want %d", step.refresh, step.advance, got, step.want)
		}
	}
}
