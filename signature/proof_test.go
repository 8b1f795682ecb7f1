package signature

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// JCS (RFC 8785): sorted members (by UTF-16 code units, so U+1F600, whose
// first unit is the surrogate D83D, comes before U+FB33, as in the RFC's
// section 3.2.3, though its code point is higher), ECMAScript's string
// escapes and number forms.
func TestCanonicalJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"b":1, "a":[true,false,null], "":"x"}`, `{"":"x","a":[true,false,null],"b":1}`},
		{`{"\ufb33":1,"😀":2,"\u00e9":3}`, "{\"\u00e9\":3,\"\U0001F600\":2,\"\ufb33\":1}"},
		{`"\u0001\b\t\n\f\r\"\\/é\u2028<>&"`, `"\u0001\b\t\n\f\r\"\\/é` + "\u2028" + `<>&"`},
		{`[1.0, -0, 0.5, 1e20, 123456789012, 1.5e-6]`, `[1,0,0.5,100000000000000000000,123456789012,0.0000015]`},
	} {
		d := json.NewDecoder(strings.NewReader(c.in))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		got, err := canonicalJSON(v)
		if err != nil || string(got) != c.want {
			t.Errorf("canonicalJSON(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{`1e21`, `1e-7`} {
		if _, err := canonicalJSON(json.Number(in)); err == nil {
			t.Errorf("canonicalJSON(%s): no error; its ECMAScript form is exponential", in)
		}
	}
}

// A proof made as eddsa-jcs-2022 makes one verifies, with or without a
// Linked Data Signature beside it, in a list of proofs too; a changed
// object, another key, or no proof does not.
func TestVerifyObjectProof(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const keyID, actor = "https://fedify.example/users/fedi#key-2", "https://fedify.example/users/fedi"
	lookup := func(_ context.Context, id string) (ed25519.PublicKey, string, error) {
		if id != keyID {
			return nil, "", errors.New("unknown key")
		}
		return pub, actor, nil
	}
	doc := map[string]any{
		"@context": []any{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v1"},
		"id":       actor + "#follows/1", "type": "Follow", "actor": actor, "object": "https://starling.example/users/alice",
	}
	options := map[string]any{"@context": doc["@context"], "type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
		"verificationMethod": keyID, "proofPurpose": "assertionMethod", "created": "2026-12-04T14:30:00Z"}
	hash := func(v map[string]any) []byte {
		b, err := canonicalJSON(jsonRoundTrip(t, v))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		return sum[:]
	}
	sig := ed25519.Sign(priv, append(hash(options), hash(doc)...))
	proof := map[string]any{"proofValue": "z" + base58Encode(sig)}
	for k, v := range options {
		if k != "@context" {
			proof[k] = v
		}
	}
	signed := func(proofs any, extra map[string]any) []byte {
		m := map[string]any{"proof": proofs}
		for k, v := range doc {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	ldSignature := map[string]any{"signature": map[string]any{"type": "RsaSignature2017", "signatureValue": "…"}}
	for name, body := range map[string][]byte{
		"OK":               signed(proof, nil),
		"OKBesideLDSig":    signed(proof, ldSignature),
		"OKInList":         signed([]any{map[string]any{"cryptosuite": "other"}, proof}, nil),
		"OKIndentedBySend": bytes.ReplaceAll(signed(proof, nil), []byte(`,"`), []byte(`, "`)),
	} {
		v, err := VerifyObjectProof(context.Background(), body, lookup)
		if err != nil || v.KeyID != keyID || v.Controller != actor {
			t.Errorf("%s: %+v, %v", name, v, err)
		}
	}
	other := map[string]any{}
	for k, v := range proof {
		other[k] = v
	}
	other["verificationMethod"] = "https://fedify.example/users/other#key-2"
	for name, body := range map[string][]byte{
		"ErrChanged":  bytes.Replace(signed(proof, nil), []byte(`"type":"Follow"`), []byte(`"type":"Block"`), 1),
		"ErrOtherKey": signed(other, nil),
		"ErrCreated":  bytes.Replace(signed(proof, nil), []byte(`14:30:00Z`), []byte(`14:30:01Z`), 1),
	} {
		if _, err := VerifyObjectProof(context.Background(), body, lookup); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if _, err := VerifyObjectProof(context.Background(), []byte(`{"type":"Follow"}`), lookup); !errors.Is(err, ErrNoProof) {
		t.Errorf("no proof: %v, want ErrNoProof", err)
	}
}

// jsonRoundTrip gives v the shape VerifyObjectProof decodes into.
func jsonRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// What SignObjectProof signs, VerifyObjectProof verifies, and a second
// signing replaces the first proof.
func TestSignObjectProof(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"@context":"https://www.w3.org/ns/activitystreams","type":"Like","actor":"https://a.example/users/alice","object":"https://b.example/notes/1","n":1.5}`)
	signed, err := SignObjectProof(doc, "https://a.example/users/alice/ed25519-key", priv, time.Date(2026, 12, 4, 14, 30, 0, 0, time.UTC))
	if err == nil {
		signed, err = SignObjectProof(signed, "https://a.example/users/alice/ed25519-key", priv, time.Date(2026, 12, 4, 14, 31, 0, 0, time.UTC))
	}
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(context.Context, string) (ed25519.PublicKey, string, error) {
		return pub, "https://a.example/users/alice", nil
	}
	if v, err := VerifyObjectProof(context.Background(), signed, lookup); err != nil || v.Controller != "https://a.example/users/alice" {
		t.Fatalf("%s: %+v, %v", signed, v, err)
	}
	if bytes.Count(signed, []byte("proofValue")) != 1 || !bytes.Contains(signed, []byte("14:31:00Z")) {
		t.Errorf("signing twice kept the first proof: %s", signed)
	}
}

// mastodonCreate is a real Mastodon Create, with its contentMap and its
// Linked Data Signature, and a new Ed25519 key pair to prove it with.
func mastodonCreate(tb testing.TB) ([]byte, ed25519.PublicKey, ed25519.PrivateKey) {
	tb.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "activitypub", "testdata", "samples", "mastodon", "create-note-contentmap.json"))
	if err != nil {
		tb.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return doc, pub, priv
}

// A document with a Linked Data Signature (a real Mastodon Create): the
// proof covers the rest of it, as the verifier reads it, and the
// signature stays in the document.
func TestSignObjectProofLDSignature(t *testing.T) {
	doc, pub, priv := mastodonCreate(t)
	signed, err := SignObjectProof(doc, "https://a.example/users/alice/ed25519-key", priv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(context.Context, string) (ed25519.PublicKey, string, error) { return pub, "", nil }
	if _, err := VerifyObjectProof(context.Background(), signed, lookup); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(signed, []byte(`"RsaSignature2017"`)) {
		t.Error("the Linked Data Signature was dropped")
	}
}

// BenchmarkObjectProof signs and verifies the proof of a real Mastodon
// Create (with its contentMap): what the outbox pays once per activity,
// and a receiver that reads proofs once per activity.
func BenchmarkObjectProof(b *testing.B) {
	doc, pub, priv := mastodonCreate(b)
	const keyID = "https://a.example/users/alice/ed25519-key"
	now := time.Now()
	signed, err := SignObjectProof(doc, keyID, priv, now)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := SignObjectProof(doc, keyID, priv, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	lookup := func(context.Context, string) (ed25519.PublicKey, string, error) { return pub, "", nil }
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := VerifyObjectProof(context.Background(), signed, lookup); err != nil {
				b.Fatal(err)
			}
		}
	})
}
