package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/signature"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

// A local actor with an Ed25519 key publishes it as FEP-521a asks, in
// assertionMethod, beside its RSA publicKey, with the contexts that define
// Multikey.
func TestActorDocument_Ed25519(t *testing.T) {
	s := Site{Scheme: "https", Host: "starling.test"}
	mb, _, err := signature.GenerateEd25519Key()
	if err != nil {
		t.Fatal(err)
	}
	a := s.NewLocalAccount("alice", "PEM", "")
	a.Ed25519KeyID, a.Ed25519PublicKey = Ed25519KeyID(a.URI), mb
	raw, err := json.Marshal(s.ActorDocument(a))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context         []any `json:"@context"`
		PublicKey       map[string]string
		AssertionMethod []map[string]string
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{activitypub.ActivityStreamsNS, activitypub.SecurityNS, activitypub.MultikeyNS, activitypub.DataIntegrityNS} {
		if !slices.Contains(doc.Context, any(c)) {
			t.Errorf("@context lacks %s: %v", c, doc.Context)
		}
	}
	if doc.PublicKey["id"] != a.URI+"#main-key" || doc.PublicKey["publicKeyPem"] != "PEM" {
		t.Errorf("publicKey %v", doc.PublicKey)
	}
	want := map[string]string{"id": a.URI + "/ed25519-key", "type": "Multikey", "controller": a.URI, "publicKeyMultibase": mb}
	if len(doc.AssertionMethod) != 1 || !mapsEqual(doc.AssertionMethod[0], want) {
		t.Errorf("assertionMethod %v, want [%v]", doc.AssertionMethod, want)
	}

	// The key's own document: a CryptographicKey owned by the actor, with
	// the same key as PKIX PEM, for servers that dereference the keyid, and
	// the same Multikey as in assertionMethod, for those that dereference a
	// proof's verificationMethod.
	kd, err := s.Ed25519KeyDocument(a)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signature.ParsePublicKey(kd.PublicKeyPEM)
	mkey, _ := signature.DecodeMultikey(mb)
	if err != nil || !mkey.Equal(pub) {
		t.Errorf("key document PEM %q: %v", kd.PublicKeyPEM, err)
	}
	if kd.ID != a.URI+"/ed25519-key" || !slices.Equal(kd.Type, []string{"CryptographicKey", "Multikey"}) ||
		kd.Owner != a.URI || kd.Controller != a.URI || kd.PublicKeyMultibase != mb ||
		!reflect.DeepEqual(kd.Context, []any{activitypub.SecurityNS, activitypub.MultikeyNS}) {
		t.Errorf("key document %+v", kd)
	}

	// Without a key: no assertionMethod, the contexts as before, no key document.
	a.Ed25519KeyID, a.Ed25519PublicKey = "", ""
	if _, err := s.Ed25519KeyDocument(a); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("key document without a key: %v", err)
	}
	raw, _ = json.Marshal(s.ActorDocument(a))
	if bytes.Contains(raw, []byte("assertionMethod")) || bytes.Contains(raw, []byte(activitypub.MultikeyNS)) {
		t.Errorf("document without a key: %s", raw)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A remote actor's Ed25519 Multikey (assertionMethod, as Fedify and
// Mastodon publish it) is stored, found by its key id, and verifies an RFC
// 9421 signature made with it; keys the actor does not control, on
// another host or of another type are ignored.
func TestResolver_Ed25519Multikey(t *testing.T) {
	pubPEM := string(sigTestReadFile(t, bobPubPath))
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/users/bob" {
			http.NotFound(w, r)
			return
		}
		actor := base + "/users/bob"
		w.Header().Set("Content-Type", activitypub.ContentType)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"@context":          []any{activitypub.ActivityStreamsNS, activitypub.SecurityNS, activitypub.DataIntegrityNS, activitypub.MultikeyNS},
			"id":                actor,
			"type":              "Person",
			"preferredUsername": "bob",
			"inbox":             actor + "/inbox",
			"publicKey":         map[string]string{"id": actor + "#main-key", "owner": actor, "publicKeyPem": pubPEM},
			"assertionMethod": []any{
				actor + "#bare-iri",
				map[string]string{"id": actor + "#rsa", "type": "Multikey", "controller": actor, "publicKeyMultibase": "zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"},
				map[string]string{"id": "https://elsewhere.example/k", "type": "Multikey", "controller": actor, "publicKeyMultibase": signature.EncodeMultikey(otherPub)},
				map[string]string{"id": actor + "#theirs", "type": "Multikey", "controller": "https://elsewhere.example/u", "publicKeyMultibase": signature.EncodeMultikey(otherPub)},
				map[string]string{"id": actor + "#ed25519-key", "type": "Multikey", "controller": actor, "publicKeyMultibase": signature.EncodeMultikey(edPub)},
			},
		})
	}))
	defer srv.Close()
	base = srv.URL
	res := &Resolver{Store: pgtest.NewDB(t), Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http"}

	a, err := res.Actor(t.Context(), base+"/users/bob", false)
	if err != nil {
		t.Fatal(err)
	}
	if a.Ed25519KeyID != base+"/users/bob#ed25519-key" || a.Ed25519PublicKey != signature.EncodeMultikey(edPub) {
		t.Fatalf("stored ed25519 key %q %q", a.Ed25519KeyID, a.Ed25519PublicKey)
	}

	body := []byte(`{"type":"Create"}`)
	r := httptest.NewRequest(http.MethodPost, "https://starling.test/inbox", bytes.NewReader(body))
	if err := signature.SignRequestRFC9421(r, a.Ed25519KeyID, edPriv, body, time.Now()); err != nil {
		t.Fatal(err)
	}
	v, err := signature.VerifyRequest(t.Context(), r, body, time.Now(), res.KeyLookup)
	if err != nil {
		t.Fatal(err)
	}
	if v.Owner != a.URI || !v.Ed25519 || v.Standard != signature.StandardRFC9421 {
		t.Fatalf("verification %+v", v)
	}
	// The RSA key still answers to its own id.
	if _, owner, err := res.KeyLookup(t.Context(), base+"/users/bob#main-key", false); err != nil || owner != a.URI {
		t.Fatalf("RSA key: %q, %v", owner, err)
	}
	if _, _, err := res.KeyLookup(t.Context(), base+"/users/bob#theirs", false); err == nil || !strings.Contains(err.Error(), "has key") {
		t.Fatalf("a key the actor does not control was found: %v", err)
	}
}

// The resolver's signed fetches use the instance actor's Ed25519 key with
// a host known to verify it, and its RSA key with one that is not.
func TestResolver_FetchSignedEd25519(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := r.Header.Get("Signature-Input")
		got = append(got, in[strings.Index(in, "keyid="):])
		w.Header().Set("Content-Type", activitypub.ContentType)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	store := newMemStandards(map[string]string{host: string(signature.StandardRFC9421Ed25519)})
	keys := Keys{KeyID: "https://starling.test/actor#main-key", Key: key, Ed25519KeyID: "https://starling.test/actor#ed25519-key", Ed25519: edPriv}
	res := &Resolver{Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http",
		Knocker: &Knocker{Store: store}, SignAs: func(context.Context) (Keys, error) { return keys, nil }}
	if _, err := res.Get(t.Context(), srv.URL+"/users/x"); err != nil {
		t.Fatal(err)
	}
	store.SetHostSignature(t.Context(), host, starling.HostSignature{Standard: string(signature.StandardRFC9421)}, true)
	res.Knocker = &Knocker{Store: store}
	if _, err := res.Get(t.Context(), srv.URL+"/users/x"); err != nil {
		t.Fatal(err)
	}
	want := []string{`keyid="https://starling.test/actor#ed25519-key";alg="ed25519"`, `keyid="https://starling.test/actor#main-key";alg="rsa-v1_5-sha256"`}
	if len(got) != 2 || !strings.HasPrefix(got[0], want[0]) || !strings.HasPrefix(got[1], want[1]) {
		t.Errorf("fetches signed %q, want %q", got, want)
	}
}
