package signature

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// FEP-8b32 Object Integrity Proofs, the eddsa-jcs-2022 cryptosuite of W3C
// Data Integrity: the Ed25519 signature Fedify puts in every activity it
// sends (its HTTP requests it signs with RSA only), and Starling's outbox
// in every activity of an actor with an Ed25519 key.

// Ed25519KeyLookup finds the Ed25519 key a proof's verificationMethod
// names, and the actor that controls it.
type Ed25519KeyLookup func(ctx context.Context, keyID string) (key ed25519.PublicKey, controller string, err error)

// ProofVerification is a proof that verified.
type ProofVerification struct {
	KeyID      string // the proof's verificationMethod
	Controller string // the key's actor, from the lookup
}

// ErrNoProof is returned by VerifyObjectProof for an object without an
// eddsa-jcs-2022 proof.
var ErrNoProof = errors.New("no eddsa-jcs-2022 proof")

// VerifyObjectProof verifies the eddsa-jcs-2022 proof of the JSON object
// doc as the cryptosuite's "verify proof" does (and Fedify's verifyProof):
// the Ed25519 signature is over signingInput. The caller checks that the
// controller is the activity's actor. Errors: ErrNoProof, or why the
// proof does not verify.
func VerifyObjectProof(ctx context.Context, doc []byte, lookup Ed25519KeyLookup) (*ProofVerification, error) {
	obj, err := decodeObject(doc)
	if err != nil {
		return nil, err
	}
	proof, ok := eddsaProof(obj["proof"])
	if !ok {
		return nil, ErrNoProof
	}
	keyID, _ := proof["verificationMethod"].(string)
	value, _ := proof["proofValue"].(string)
	if proof["type"] != "DataIntegrityProof" || proof["proofPurpose"] != "assertionMethod" || keyID == "" {
		return nil, errors.New("proof: not a DataIntegrityProof for assertionMethod with a verificationMethod")
	}
	if _, ok := proof["created"].(string); !ok {
		return nil, errors.New("proof: no created")
	}
	sig, err := decodeMultibase(value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("proof: proofValue is not a base58btc Ed25519 signature: %v", err)
	}
	input, err := signingInput(obj, proof)
	if err != nil {
		return nil, err
	}
	key, controller, err := lookup(ctx, keyID)
	if err != nil {
		return nil, fmt.Errorf("proof: key %s: %w", keyID, err)
	}
	if !ed25519.Verify(key, input, sig) {
		return nil, fmt.Errorf("proof: signature by %s does not verify", keyID)
	}
	return &ProofVerification{KeyID: keyID, Controller: controller}, nil
}

// SignObjectProof adds an eddsa-jcs-2022 proof made with key, named
// keyID, created at created, to the JSON object doc, replacing any proof
// it has, as Fedify's signObject does; the outbox signs every activity so.
// A Linked Data Signature ("signature") the document has is left out of
// what the proof covers, as VerifyObjectProof leaves it out.
func SignObjectProof(doc []byte, keyID string, key ed25519.PrivateKey, created time.Time) ([]byte, error) {
	obj, err := decodeObject(doc)
	if err != nil {
		return nil, err
	}
	delete(obj, "proof")
	proof := map[string]any{"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022", "verificationMethod": keyID,
		"proofPurpose": "assertionMethod", "created": created.UTC().Format(time.RFC3339)}
	input, err := signingInput(obj, proof)
	if err != nil {
		return nil, err
	}
	proof["proofValue"] = "z" + base58Encode(ed25519.Sign(key, input))
	obj["proof"] = proof
	return json.Marshal(obj)
}

// decodeObject decodes the JSON object doc, its numbers kept as written
// (JCS writes them again).
func decodeObject(doc []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return nil, fmt.Errorf("proof: decode object: %w", err)
	}
	return obj, nil
}

// signingInput is what an eddsa-jcs-2022 proof signs: SHA-256 of the JCS
// (RFC 8785) form of the proof's options (the proof without proofValue,
// with the document's @context), then SHA-256 of the JCS form of the
// document without what a proof does not cover (unsecured).
func signingInput(obj, proof map[string]any) ([]byte, error) {
	options := make(map[string]any, len(proof)+1)
	for k, v := range proof {
		if k != "proofValue" {
			options[k] = v
		}
	}
	if c, ok := obj["@context"]; ok {
		options["@context"] = c
	}
	optionsJCS, err := canonicalJSON(options)
	if err != nil {
		return nil, fmt.Errorf("proof: %w", err)
	}
	docJCS, err := canonicalJSON(unsecured(obj))
	if err != nil {
		return nil, fmt.Errorf("proof: %w", err)
	}
	optionsHash, docHash := sha256.Sum256(optionsJCS), sha256.Sum256(docJCS)
	return append(optionsHash[:], docHash[:]...), nil
}

// unsecured is obj without what a proof does not cover: its proof, and a
// Linked Data Signature (an object named "signature"), which Fedify adds
// after the proof.
func unsecured(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if _, ldSignature := v.(map[string]any); k == "proof" || (k == "signature" && ldSignature) {
			continue
		}
		out[k] = v
	}
	return out
}

// eddsaProof returns the first eddsa-jcs-2022 proof of a proof property:
// one object or a list of them.
func eddsaProof(v any) (map[string]any, bool) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	for _, p := range list {
		if m, ok := p.(map[string]any); ok && m["cryptosuite"] == "eddsa-jcs-2022" {
			return m, true
		}
	}
	return nil, false
}

// decodeMultibase decodes a multibase base58btc ("z…") value.
func decodeMultibase(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "z")
	if !ok {
		return nil, errors.New("not base58btc multibase")
	}
	return base58Decode(rest)
}

// canonicalJSON serializes a value decoded with json.Decoder.UseNumber as
// RFC 8785 (JCS) does: object members sorted by their names' UTF-16 code
// units, no whitespace, strings escaped as ECMAScript's JSON.stringify
// escapes them, numbers as ECMAScript prints them. Numbers whose
// ECMAScript form is exponential (below 1e-6 or from 1e21 on) are refused
// rather than risk a form that differs: activities carry none.
func canonicalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeCanonical(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeCanonical(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		writeCanonicalString(b, v)
	case json.Number:
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("jcs: number %s", v)
		}
		if a := math.Abs(f); f != 0 && (a < 1e-6 || a >= 1e21) {
			return fmt.Errorf("jcs: number %s needs an exponent", v)
		}
		if f == 0 {
			f = 0 // -0 prints as 0
		}
		b.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(x, y string) int {
			return slices.Compare(utf16.Encode([]rune(x)), utf16.Encode([]rune(y)))
		})
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonicalString(b, k)
			b.WriteByte(':')
			if err := writeCanonical(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("jcs: unexpected %T", v)
	}
	return nil
}

func writeCanonicalString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[r>>4])
				b.WriteByte(hex[r&0xf])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
