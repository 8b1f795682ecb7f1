package outbox

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/signature"
)

// prove encodes doc, actor's activity, with an eddsa-jcs-2022 proof
// (FEP-8b32) made with actor's Ed25519 key, when Keys is set and the
// actor has one: the document's @context gains the Data Integrity context,
// which defines "proof" for JSON-LD readers such as Fedify.
//
// A proof lets a server verify the activity without the HTTP request it
// came in: Fedify verifies proofs first, and an activity forwarded by a
// third server (a reply to a thread, say) stays verifiable. It is made
// once per activity, not per delivery. A key that cannot be read or used
// costs only the proof: the activity goes without one, signed per request
// as before.
func (o *Outbox) prove(ctx context.Context, actor *starling.Account, doc map[string]any) ([]byte, error) {
	if o.Keys == nil || actor.Ed25519KeyID == "" {
		return json.Marshal(doc)
	}
	key, err := o.ed25519Key(ctx, actor)
	if err != nil {
		o.logger().Warn("activity goes without a proof", "actor", actor.URI, "error", err)
		return json.Marshal(doc)
	}
	doc["@context"] = withDataIntegrity(doc["@context"])
	// Encoded, then decoded again by SignObjectProof: doc holds Go values
	// (an actor document, say) that JCS cannot write until they are JSON.
	payload, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	proved, err := signature.SignObjectProof(payload, actor.Ed25519KeyID, key, o.now())
	if err != nil {
		o.logger().Warn("activity goes without a proof", "actor", actor.URI, "error", err)
		return payload, nil
	}
	return proved, nil
}

// ed25519Key is actor's Ed25519 private key: the one it carries (a key
// just made, as a rotation's Update has), else the stored one.
func (o *Outbox) ed25519Key(ctx context.Context, actor *starling.Account) (ed25519.PrivateKey, error) {
	pemText := actor.Ed25519PrivateKeyPEM
	if pemText == "" {
		keys, err := o.Keys.SigningKeys(ctx, actor.ID)
		if err != nil {
			return nil, fmt.Errorf("read signing keys: %w", err)
		}
		if keys.Ed25519KeyID != actor.Ed25519KeyID || keys.Ed25519PEM == "" {
			return nil, fmt.Errorf("no ed25519 key %s on record", actor.Ed25519KeyID)
		}
		pemText = keys.Ed25519PEM
	}
	key, err := signature.ParsePrivateKey(pemText)
	if err != nil {
		return nil, fmt.Errorf("ed25519 key: %w", err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("ed25519 key is a %T", key)
	}
	return ed, nil
}

// withDataIntegrity returns context, as the outbox writes it (one IRI or
// activitypub.DefaultContext's list), with the Data Integrity context
// added: a single IRI becomes a list.
func withDataIntegrity(context any) any {
	switch c := context.(type) {
	case string:
		return []any{c, activitypub.DataIntegrityNS}
	case []any:
		return append(slices.Clip(c), activitypub.DataIntegrityNS)
	}
	return context // not the outbox's: left alone, the proof still verifies by JCS
}
