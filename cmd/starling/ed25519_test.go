package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/signature"
)

// TestEd25519Delivery: two Starlings that have never met: each resolves
// the other's actor before its first delivery, finds an Ed25519 key there
// (a FEP-521a Multikey) and guesses the host verifies it, so every
// delivery between them, the first contacts included, is signed RFC 9421
// with the actor's Ed25519 key, verified by the other, with no knock spent
// on it. (Each inbox's Accept-Signature would teach the same.)
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
		doc.AssertionMethod[0].ID != actor+"/ed25519-key" || doc.AssertionMethod[0].Type != "Multikey" || doc.AssertionMethod[0].Controller != actor {
		t.Fatalf("actor document keys: %+v", doc)
	}
	mkey, err := signature.DecodeMultikey(doc.AssertionMethod[0].PublicKeyMultibase)
	if err != nil {
		t.Fatal(err)
	}
	// Its id is a key document of its own, as is the instance actor's.
	for _, owner := range []string{actor, a.base + "/actor"} {
		resp := must(http.Get(owner + "/ed25519-key"))
		var kd struct {
			ID, Owner, Controller, PublicKeyPem string
			Type                                []string
		}
		err := json.NewDecoder(resp.Body).Decode(&kd)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || kd.ID != owner+"/ed25519-key" ||
			!slices.Equal(kd.Type, []string{"CryptographicKey", "Multikey"}) || kd.Owner != owner || kd.Controller != owner {
			t.Fatalf("GET %s/ed25519-key: %d %+v %v", owner, resp.StatusCode, kd, err)
		}
		pub, err := signature.ParsePublicKey(kd.PublicKeyPem)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := pub.(ed25519.PublicKey); !ok || (owner == actor && !mkey.Equal(pub)) {
			t.Errorf("%s's key document holds %T, not its Ed25519 key", owner, pub)
		}
	}
	resp = must(http.Get(a.base + "/users/nobody/ed25519-key"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /users/nobody/ed25519-key: %d, want 404", resp.StatusCode)
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
	if got := a.inbox.allSignatures(); !slices.Equal(got, []string{"rfc9421 ed25519"}) {
		t.Errorf("A received %v before the post, want the Follow signed with Ed25519", got)
	}
	if got := b.inbox.allSignatures(); !slices.Equal(got, []string{"rfc9421 ed25519"}) {
		t.Errorf("B received %v before the post, want the Accept signed with Ed25519", got)
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
	if got := a.inbox.allSignatures(); !slices.Equal(got, []string{"rfc9421 ed25519", "rfc9421 ed25519"}) {
		t.Errorf("A received %v, want the Follow and the Undo, both with Ed25519", got)
	}
	if n := strings.Count(strings.Join(b.inbox.allSignatures(), ","), "draft-cavage"); n != 0 {
		t.Errorf("B received %v, want nothing signed draft-cavage", b.inbox.allSignatures())
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
	if err != nil || k.Ed25519KeyID != old.URI+"/ed25519-key" {
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

// TestFedifyEd25519: Fedify 2.3 verifies Starling's RFC 9421 Ed25519
// signatures and its Ed25519 Object Integrity Proofs, and Starling
// verifies what Fedify signs HTTP requests with and Fedify's proofs.
//
// Starling → Fedify: Fedify looks a keyid up as a CryptographicKey, among
// the actor's publicKey entries or as the document the keyid names, never
// in assertionMethod (fetchKeyDetailed, sig/key.ts). Starling's Ed25519
// key id names a key document of its own (federation.Ed25519KeyID), so
// Fedify finds the key. Nobody tells Starling what Fedify verifies: the
// Ed25519 key Fedify's actor publishes makes the Knocker guess RFC 9421
// with Ed25519, so every delivery is signed with the Ed25519 key on the
// first knock, and Fedify accepts each one.
//
// Fedify → Starling: Fedify signs HTTP requests with its RSA key only
// (sendActivityInternal, federation/send.ts, picks the first
// RSASSA-PKCS1-v1_5 key; signRequestDraft and signRequestRfc9421 in
// sig/http.ts throw "Unsupported algorithm" for any other), which the
// test checks by asking Fedify's own signRequest to sign with its Ed25519
// key. Starling verifies the RFC 9421 RSA signatures Fedify sends and
// stores the Ed25519 Multikey Fedify publishes in assertionMethod. Fedify
// signs with Ed25519 only the Object Integrity Proofs in activity bodies
// (FEP-8b32), which Starling verifies (signature.VerifyObjectProof). The
// peer then signs a request with that Ed25519 key through
// http-message-signatures, a third RFC 9421 implementation, and Starling
// verifies it (and refuses it changed).
func TestFedifyEd25519(t *testing.T) {
	peer := startFedify(t)
	a := startInstance(t, "A")
	alice := a.user("alice")
	aliceURI := a.base + "/users/alice"
	host := strings.TrimPrefix(peer.base, "http://")

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

	edSigned := func(r fedifyReceived) bool { return r.Alg == signature.AlgEd25519 }
	a.follow(alice, fedi)
	peer.waitReceived("Follow", aliceURI, "rfc9421", edSigned)
	waitFor(t, 20*time.Second, "alice to follow Fedify", func() bool {
		var me api.Account
		a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
		return me.FollowingCount == 1
	})
	// Fedify follows alice (signing RFC 9421 with RSA, which Starling
	// verifies), so her post goes to it.
	peer.control("POST", "/control/follow", url.Values{"target": {aliceURI}, "knock": {"rfc9421"}}, nil)
	peer.waitReceived("Accept", aliceURI, "rfc9421", edSigned)
	var post api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"Hello, Fedify"}}, &post)
	note := peer.waitReceived("Create", aliceURI, "rfc9421", func(r fedifyReceived) bool {
		return edSigned(r) && strings.Contains(r.Content, "Hello, Fedify")
	})
	t.Logf("Fedify accepted %s (%s, %s)", note.ID, note.Standard, note.Alg)

	// Every request of Starling's went out with Ed25519 and was accepted on
	// the first knock: what is remembered for Fedify was never lowered, and
	// Fedify accepted nothing signed otherwise.
	all, err := a.srv.Store.HostSignatures(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if all[host] != (starling.HostSignature{Standard: string(signature.StandardRFC9421Ed25519)}) {
		t.Errorf("remembered %+v for Fedify, want %s and no refusal", all[host], signature.StandardRFC9421Ed25519)
	}
	// Each of them also carries alice's Ed25519 Object Integrity Proof
	// (FEP-8b32), which Fedify's own verifyObject verifies against the
	// key document her proof names (a Multikey as well as a
	// CryptographicKey), as Fedify's inbox does before the HTTP signature.
	var proofs int
	for _, r := range peer.received() {
		if r.Actor != aliceURI {
			continue
		}
		if r.Alg != signature.AlgEd25519 {
			t.Errorf("Fedify accepted %s from alice signed %s %q, want Ed25519", r.Type, r.Standard, r.Alg)
		}
		if r.Proof != "verified" {
			t.Errorf("Fedify's verifyObject on alice's %s: %q, want verified (%v)", r.Type, r.Proof, r.Raw["proof"])
		}
		proofs++
	}
	if proofs < 3 {
		t.Errorf("Fedify checked the proofs of %d of alice's activities, want her Follow, Accept and Create", proofs)
	}
	t.Logf("Fedify verified the Ed25519 proofs of alice's %d activities", proofs)

	// Fedify's requests to Starling: RFC 9421 (RSA), all accepted; each
	// activity carries Fedify's Ed25519 Object Integrity Proof, which
	// Starling verifies with the Multikey it stored for Fedify's actor.
	lookup := func(ctx context.Context, keyID string) (ed25519.PublicKey, string, error) {
		acct, err := a.srv.Store.AccountByKeyID(ctx, keyID)
		if err != nil {
			return nil, "", err
		}
		if acct.Ed25519KeyID != keyID {
			return nil, "", fmt.Errorf("%s is not %s's Ed25519 key", keyID, acct.URI)
		}
		key, err := signature.DecodeMultikey(acct.Ed25519PublicKey)
		return key, acct.URI, err
	}
	var fedifySent int
	for _, s := range peer.sent() {
		if !strings.HasPrefix(s.URL, a.base) {
			continue
		}
		fedifySent++
		if s.Standard != "rfc9421" || s.Status >= 300 {
			t.Errorf("Fedify sent %s signed %q and Starling answered %d", s.URL, s.Standard, s.Status)
		}
		v, err := signature.VerifyObjectProof(t.Context(), []byte(s.Body), lookup)
		if err != nil || v.Controller != peer.actor() {
			t.Errorf("Fedify's proof on %s: %+v, %v", s.Body, v, err)
			continue
		}
		// The same activity, changed, does not verify.
		tampered := strings.Replace(s.Body, `"actor":"`, `"actor":"x`, 1)
		if _, err := signature.VerifyObjectProof(t.Context(), []byte(tampered), lookup); err == nil || tampered == s.Body {
			t.Errorf("a changed activity verified (or could not be changed): %s", tampered)
		}
	}
	if fedifySent == 0 {
		t.Error("Fedify sent Starling nothing")
	}
	t.Logf("Starling verified the Ed25519 proofs of Fedify's %d activities", fedifySent)
	// And Fedify cannot sign a request with its Ed25519 key at all.
	var refused map[string]string
	peer.control("GET", "/control/sign-ed25519", url.Values{"url": {a.base + "/inbox"}}, &refused)
	for _, spec := range []string{"rfc9421", "draft-cavage-http-signatures-12"} {
		if !strings.Contains(refused[spec], "Unsupported algorithm: Ed25519") {
			t.Errorf("Fedify's signRequest with an Ed25519 key, %s: %q; if Fedify now signs with Ed25519, test that Starling verifies it", spec, refused[spec])
		}
	}

	// So the peer signs with its Ed25519 key through another library,
	// http-message-signatures: Fedify's actor, Fedify's key and Fedify's
	// serialisation, an RFC 9421 signature that no Starling code made.
	// Starling verifies it with the Multikey it stored and the post lands
	// in alice's home; a changed body (with a fresh Content-Digest) or a
	// request sent to another inbox than the one signed is refused.
	type edPost struct {
		ID, KeyID, Answer, SignatureInput string
		Status                            int
	}
	for _, tc := range []struct {
		tamper string
		want   int
	}{
		{"", http.StatusAccepted},
		{"body", http.StatusUnauthorized},
		{"target", http.StatusUnauthorized},
	} {
		var res edPost
		peer.control("POST", "/control/post-ed25519", url.Values{
			"inbox": {a.base + "/inbox"}, "content": {"Signed with Ed25519, " + tc.tamper}, "tamper": {tc.tamper},
		}, &res)
		if res.Status != tc.want {
			t.Errorf("Ed25519-signed Create (tamper %q): Starling answered %d %s, want %d", tc.tamper, res.Status, res.Answer, tc.want)
			continue
		}
		if !strings.Contains(res.SignatureInput, `alg="ed25519"`) || res.KeyID != got.Ed25519KeyID {
			t.Errorf("the peer signed %s with %s, want ed25519 with %s", res.SignatureInput, res.KeyID, got.Ed25519KeyID)
		}
		if tc.tamper == "" {
			waitFor(t, 10*time.Second, "the Ed25519-signed post in alice's home", func() bool { return a.home(alice, res.ID) > 0 })
			t.Logf("Starling accepted %s signed %s", res.ID, res.SignatureInput)
		} else if !strings.Contains(res.Answer, "does not verify") {
			// Refused, but for the signature and not the key: the same
			// key verified the untampered request above.
			t.Errorf("tamper %q refused with %q, want the signature not to verify", tc.tamper, res.Answer)
		} else if a.home(alice, res.ID) > 0 {
			t.Errorf("a Create refused with %d (tamper %q) reached alice's home", res.Status, tc.tamper)
		} else {
			t.Logf("tamper %q: Starling answered %d %s", tc.tamper, res.Status, strings.TrimSpace(res.Answer))
		}
	}
}

// TestRotateEd25519Key: `starling admin account rotate-key` gives alice a
// new Ed25519 key under the same id and sends her followers' servers an
// Update of her actor; B, which verified her Ed25519 signatures with the
// old key, takes the new one and verifies her next post, signed with it,
// on the first knock.
func TestRotateEd25519Key(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	alice := a.user("alice")
	bob := b.user("bob")
	aliceOnB := b.resolve(bob, "alice@"+a.cfg.Domain)
	b.follow(bob, aliceOnB)
	waitFor(t, 5*time.Second, "bob to follow alice", func() bool {
		var rel []api.Relationship
		b.mustCall("GET", "/api/v1/accounts/relationships?id[]="+aliceOnB, bob, nil, &rel)
		return len(rel) == 1 && rel[0].Following
	})
	post := func(text string) string {
		var st api.Status
		a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {text}}, &st)
		waitFor(t, 10*time.Second, "the post in bob's home timeline", func() bool { return b.home(bob, st.URI) > 0 })
		return st.URI + "/activity"
	}
	first := post("signed with the first key")
	if got := b.inbox.signatures(first); !slices.Equal(got, []string{"rfc9421 ed25519"}) {
		t.Fatalf("before the rotation the post reached B signed %v, want once with rfc9421 ed25519", got)
	}
	ctx := t.Context()
	before := must(a.srv.Store.AccountByAcct(ctx, "alice", ""))

	code, out, errOut := cliRun(a, "admin", "account", "rotate-key", "--username", "alice")
	if code != 0 {
		t.Fatalf("rotate-key: %d %s %s", code, out, errOut)
	}
	after := must(a.srv.Store.AccountByAcct(ctx, "alice", ""))
	if after.Ed25519PublicKey == before.Ed25519PublicKey || after.Ed25519KeyID != before.Ed25519KeyID {
		t.Fatalf("key %s (%s) after rotation, was %s (%s): want a new key under the same id",
			after.Ed25519PublicKey, after.Ed25519KeyID, before.Ed25519PublicKey, before.Ed25519KeyID)
	}
	k := must(a.srv.Store.SigningKeys(ctx, after.ID))
	priv := must(signature.ParsePrivateKey(k.Ed25519PEM))
	if pub := must(signature.DecodeMultikey(after.Ed25519PublicKey)); !pub.Equal(priv.(ed25519.PrivateKey).Public()) {
		t.Fatal("the new public key does not match the new private key")
	}
	waitFor(t, 10*time.Second, "B to take alice's new key from the Update", func() bool {
		got, err := b.srv.Store.AccountByURI(ctx, before.URI)
		return err == nil && got.Ed25519PublicKey == after.Ed25519PublicKey
	})

	second := post("signed with the new key")
	if got := b.inbox.signatures(second); !slices.Equal(got, []string{"rfc9421 ed25519"}) {
		t.Errorf("after the rotation the post reached B signed %v, want once with rfc9421 ed25519", got)
	}
}
