package outbox_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/outbox"
	"github.com/starling-social/starling/signature"
)

// With Keys set, an actor's activities carry an eddsa-jcs-2022 proof made
// with its Ed25519 key, and the Data Integrity context; a key rotation's
// Update is signed with the new key; an actor without an Ed25519 key
// sends activities without a proof.
func TestActivityProofs(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.ob.Keys = r.db
	carol := r.site.NewLocalAccount("carol", "pem", "key")
	pub, priv, err := signature.GenerateEd25519Key()
	if err != nil {
		t.Fatal(err)
	}
	carol.Ed25519KeyID, carol.Ed25519PublicKey, carol.Ed25519PrivateKeyPEM = federation.Ed25519KeyID(carol.URI), pub, priv
	if err := r.db.CreateLocalAccount(ctx, carol, "carol@mail.test", "hash"); err != nil {
		t.Fatal(err)
	}
	carol.Ed25519PrivateKeyPEM = "" // as accounts are read back: the store keeps it

	// lookup is what a receiver does with the proof's verificationMethod:
	// the key the actor publishes now.
	lookup := func(ctx context.Context, keyID string) (ed25519.PublicKey, string, error) {
		a, err := r.db.AccountByID(ctx, carol.ID)
		if err != nil || keyID != a.Ed25519KeyID {
			return nil, "", fmt.Errorf("no key %s (%v)", keyID, err)
		}
		key, err := signature.DecodeMultikey(a.Ed25519PublicKey)
		if err != nil {
			return nil, "", err
		}
		return key, a.URI, nil
	}
	tests := []struct {
		name  string
		do    func(t *testing.T) []byte // the activity's payload
		proof bool
	}{
		{"Create", func(t *testing.T) []byte {
			r.create(t, carol, outbox.NewStatus{Text: "signed twice", Visibility: starling.VisibilityPublic})
			return r.rec.acts[len(r.rec.acts)-1].Payload
		}, true},
		{"Update after rotating the key", func(t *testing.T) []byte {
			if _, err := r.ob.RotateEd25519Key(ctx, carol); err != nil {
				t.Fatal(err)
			}
			return latestActivity(t, r, carol.ID, "Update")
		}, true},
		{"Create by an actor without an Ed25519 key", func(t *testing.T) []byte {
			r.create(t, r.alice, outbox.NewStatus{Text: "signed per request", Visibility: starling.VisibilityPublic})
			return r.rec.acts[len(r.rec.acts)-1].Payload
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := tt.do(t)
			var doc struct {
				Context []any          `json:"@context"`
				Proof   map[string]any `json:"proof"`
			}
			if err := json.Unmarshal(payload, &doc); err != nil {
				t.Fatal(err)
			}
			pv, err := signature.VerifyObjectProof(ctx, payload, lookup)
			if !tt.proof {
				if doc.Proof != nil || slices.Contains(doc.Context, any(activitypub.DataIntegrityNS)) {
					t.Errorf("proof %v, context %v; want neither", doc.Proof, doc.Context)
				}
				return
			}
			if err != nil || pv.Controller != carol.URI {
				t.Fatalf("proof does not verify: %v (%+v)", err, pv)
			}
			if !slices.Contains(doc.Context, any(activitypub.DataIntegrityNS)) {
				t.Errorf("@context %v lacks %s", doc.Context, activitypub.DataIntegrityNS)
			}
		})
	}
}

// latestActivity is the payload of accountID's newest stored activity of typ.
func latestActivity(t *testing.T, r *rig, accountID int64, typ string) []byte {
	t.Helper()
	var payload []byte
	err := r.db.Pool().QueryRow(context.Background(),
		`SELECT payload FROM activities WHERE actor_id = $1 AND type = $2 ORDER BY id DESC LIMIT 1`, accountID, typ).Scan(&payload)
	if err != nil {
		t.Fatalf("latest %s of %d: %v", typ, accountID, err)
	}
	return payload
}
