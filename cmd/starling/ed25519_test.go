package main

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/signature"
)

// TestEd25519Delivery: two Starlings that have never met sign their first
// deliveries draft-cavage; each answers with Accept-Signature asking for
// RFC 9421 with Ed25519, so from then on every delivery between them is
// signed with the actor's Ed25519 key (published in its actor document as
// a FEP-521a Multikey), verified by the other, with no knock spent on it.
func TestEd25519Delivery(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	alice := a.user("alice")
	bob := b.user("bob")
	aliceAcct := "alice@" + a.cfg.Domain

	// alice's actor document carries both keys.
	req := must(http.NewRequest("GET", a.base+"/users/alice", nil))
	req.Header.Set("Accept", "application/activity+json")
	resp := must(http.DefaultClient.Do(req))
	var doc struct {
		PublicKey       struct{ ID string }
		AssertionMethod []struct{ ID, Type, Controller, PublicKeyMultibase string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	actor := a.base + "/users/alice"
	if doc.PublicKey.ID != actor+"#main-key" || len(doc.AssertionMethod) != 1 ||
		doc.AssertionMethod[0].ID != actor+"#ed25519-key" || doc.AssertionMethod[0].Type != "Multikey" || doc.AssertionMethod[0].Controller != actor {
		t.Fatalf("actor document keys: %+v", doc)
	}
	if _, err := signature.DecodeMultikey(doc.AssertionMethod[0].PublicKeyMultibase); err != nil {
		t.Fatal(err)
	}

	// bob follows alice: the Follow (B → A) and the Accept (A → B) are
	// first contacts.
	aliceOnB := b.resolve(bob, aliceAcct)
	b.follow(bob, aliceOnB)
	waitFor(t, 5*time.Second, "bob to follow alice", func() bool {
		var rel []api.Relationship
		b.mustCall("GET", "/api/v1/accounts/relationships?id[]="+aliceOnB, bob, nil, &rel)
		return len(rel) == 1 && rel[0].Following
	})
	if got := a.inbox.allSignatures(); !slices.Equal(got, []string{"draft-cavage"}) {
		t.Errorf("A received %v before the post, want the Follow signed draft-cavage", got)
	}
	if got := b.inbox.allSignatures(); !slices.Equal(got, []string{"draft-cavage"}) {
		t.Errorf("B received %v before the post, want the Accept signed draft-cavage", got)
	}

	// alice posts: A → B with Ed25519.
	var post api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"signed with Ed25519"}}, &post)
	waitFor(t, 5*time.Second, "the post in bob's home timeline", func() bool { return b.home(bob, post.URI) > 0 })
	if got := b.inbox.signatures(post.URI + "/activity"); !slices.Equal(got, []string{"rfc9421 ed25519"}) {
		t.Errorf("the Create reached B signed %v, want once with rfc9421 ed25519", got)
	}

	// bob unfollows: B → A with Ed25519.
	var rel api.Relationship
	b.mustCall("POST", "/api/v1/accounts/"+aliceOnB+"/unfollow", bob, url.Values{}, &rel)
	var me api.Account
	waitFor(t, 5*time.Second, "alice to lose bob as a follower", func() bool {
		a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
		return me.FollowersCount == 0
	})
	got := a.inbox.allSignatures()
	slices.Sort(got)
	if !slices.Equal(got, []string{"draft-cavage", "rfc9421 ed25519"}) {
		t.Errorf("A received %v, want the Follow (draft-cavage) and the Undo (rfc9421 ed25519)", got)
	}
	if n := strings.Count(strings.Join(b.inbox.allSignatures(), ","), "draft-cavage"); n != 1 {
		t.Errorf("B received %v, want one draft-cavage (the Accept) and no other", b.inbox.allSignatures())
	}
}

// Accounts made before migration 00080 have no Ed25519 key; serve's Open
// gives them one (EnsureEd25519Keys), once.
func TestEnsureEd25519Keys(t *testing.T) {
	a := startInstance(t, "A")
	ctx := t.Context()
	db := a.srv.Store
	adm := adminOf(a)
	pub, priv, err := signature.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	old := adm.Site.NewLocalAccount("old", pub, priv) // as made before: RSA only
	if err := db.CreateLocalAccount(ctx, old, "old@example.test", "x"); err != nil {
		t.Fatal(err)
	}
	if k, err := db.SigningKeys(ctx, old.ID); err != nil || k.Ed25519PEM != "" {
		t.Fatalf("before: %+v, %v", k, err)
	}
	n, err := adm.EnsureEd25519Keys(ctx)
	if err != nil || n != 1 {
		t.Fatalf("EnsureEd25519Keys = %d, %v; want 1 (the instance actor and new accounts have keys)", n, err)
	}
	k, err := db.SigningKeys(ctx, old.ID)
	if err != nil || k.Ed25519KeyID != old.URI+"#ed25519-key" {
		t.Fatalf("after: %+v, %v", k, err)
	}
	key, err := signature.ParsePrivateKey(k.Ed25519PEM)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.AccountByID(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	pubKey, err := signature.DecodeMultikey(got.Ed25519PublicKey)
	if err != nil || !pubKey.Equal(key.(ed25519.PrivateKey).Public()) {
		t.Fatalf("stored public key %q does not match the private key: %v", got.Ed25519PublicKey, err)
	}
	if n, err := adm.EnsureEd25519Keys(ctx); err != nil || n != 0 {
		t.Fatalf("second EnsureEd25519Keys = %d, %v; want 0", n, err)
	}
}

// TestFedifyEd25519: Starling stores the Ed25519 Multikey Fedify 2.3
// publishes in assertionMethod. Fedify verifies HTTP signatures only with
// keys listed in publicKey (CryptographicKey; fetchKey with
// CryptographicKey), so it refuses an RFC 9421 signature made with
// Starling's Ed25519 key, published as a Multikey only: the Knocker, told
// Fedify verifies Ed25519 (as a request signed with one would tell it),
// falls back to RFC 9421 with RSA after one 401, remembers it, and the
// next delivery goes out with RSA on the first knock.
func TestFedifyEd25519(t *testing.T) {
	peer := startFedify(t)
	a := startInstance(t, "A")
	alice := a.user("alice")
	aliceURI := a.base + "/users/alice"
	host := strings.TrimPrefix(peer.base, "http://")
	if err := a.srv.Store.SetHostSignatureStandard(t.Context(), host, string(signature.StandardRFC9421Ed25519), true); err != nil {
		t.Fatal(err)
	}

	fedi := a.resolve(alice, peer.acct())
	got, err := a.srv.Store.AccountByURI(t.Context(), peer.actor())
	if err != nil {
		t.Fatal(err)
	}
	if got.Ed25519KeyID == "" {
		t.Errorf("Fedify's Ed25519 Multikey was not stored: %+v", got)
	} else if _, err := signature.DecodeMultikey(got.Ed25519PublicKey); err != nil {
		t.Error(err)
	}

	rsaSigned := func(r fedifyReceived) bool { return r.Alg == signature.AlgRSAv15SHA256 }
	a.follow(alice, fedi)
	peer.waitReceived("Follow", aliceURI, "rfc9421", rsaSigned)
	waitFor(t, 20*time.Second, "alice to follow Fedify", func() bool {
		var me api.Account
		a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
		return me.FollowingCount == 1
	})
	all, err := a.srv.Store.HostSignatureStandards(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if all[host] != string(signature.StandardRFC9421) {
		t.Errorf("remembered %q for Fedify, want rfc9421", all[host])
	}
	// Fedify follows alice, so her post goes to it.
	peer.control("POST", "/control/follow", url.Values{"target": {aliceURI}, "knock": {"rfc9421"}}, nil)
	peer.waitReceived("Accept", aliceURI, "rfc9421", rsaSigned)
	var post api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"Hello, Fedify"}}, &post)
	note := peer.waitReceived("Create", aliceURI, "rfc9421", func(r fedifyReceived) bool {
		return rsaSigned(r) && strings.Contains(r.Content, "Hello, Fedify")
	})
	for _, r := range peer.received() {
		if r.Alg == signature.AlgEd25519 {
			t.Errorf("Fedify accepted an Ed25519 signature: %+v", r)
		}
	}
	t.Logf("Fedify accepted %s (%s, %s)", note.ID, note.Standard, note.Alg)
}
