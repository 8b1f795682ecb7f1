package activitypub

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling/store/storetest"
)

// Mastodon's "acct: keyId" case through the real resolver: the key is found
// by WebFinger, and the request verifies with Mastodon's verdict.
func TestResolver_AcctKeyID(t *testing.T) {
	var vectors mastodonVectors
	sigTestJSON(t, "testdata/mastodon-signatures/vectors.json", &vectors)
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
				{"rel": "self", "type": ContentType, "href": base + "/users/bob"}}})
		case "/users/bob":
			_ = json.NewEncoder(w).Encode(Actor{ID: base + "/users/bob", Type: "Person", PreferredUsername: "bob",
				Inbox:     base + "/users/bob/inbox",
				PublicKey: &PublicKey{ID: base + "/users/bob#main-key", Owner: base + "/users/bob", PublicKeyPEM: pubPEM}})
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
			v, err := VerifyRequest(t.Context(), r, nil, now, res.KeyLookup)
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
