package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The Multikey encoding against FEP-521a's example and two did:key-style
// vectors whose raw keys are published alongside.
func TestMultikey_Vectors(t *testing.T) {
	var vectors struct {
		Cases []struct {
			Name      string `json:"name"`
			RawBase58 string `json:"public_key_base58"`
			RawHex    string `json:"public_key_hex"`
			Multibase string `json:"multibase"`
		} `json:"cases"`
	}
	sigTestJSON(t, "testdata/multikey/vectors.json", &vectors)
	for _, c := range vectors.Cases {
		t.Run(c.Name, func(t *testing.T) {
			key, err := DecodeMultikey(c.Multibase)
			if err != nil {
				t.Fatal(err)
			}
			if len(key) != ed25519.PublicKeySize {
				t.Fatalf("key is %d bytes", len(key))
			}
			if got := EncodeMultikey(key); got != c.Multibase {
				t.Fatalf("re-encoded %q, want %q", got, c.Multibase)
			}
			if c.RawHex != "" {
				raw, err := hex.DecodeString(c.RawHex)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(raw, key) {
					t.Fatalf("decoded %x, want %x", []byte(key), raw)
				}
				if got := EncodeMultikey(ed25519.PublicKey(raw)); got != c.Multibase {
					t.Fatalf("encoded the raw key as %q, want %q", got, c.Multibase)
				}
			}
			if c.RawBase58 != "" {
				raw, err := base58Decode(c.RawBase58)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(raw, key) {
					t.Fatalf("decoded %x, want %x", []byte(key), raw)
				}
			}
		})
	}
}

func TestDecodeMultikey_Errors(t *testing.T) {
	for name, s := range map[string]string{
		"NoPrefix":   "6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
		"BadChar":    "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ0",
		"Short":      "z6Mkr",
		"Secp256k1":  "zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", // 0xe7 0x01 prefix
		"Empty":      "",
		"TooLongSix": "z" + strings.Repeat("2", 200),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeMultikey(s); err == nil {
				t.Fatal("decoded")
			}
		})
	}
}

// RFC 9421 Appendix B.2.6: Ed25519 is deterministic, so signing the
// vector's signature base with the RFC's key must give its signature byte
// for byte, through the signer SignRequestRFC9421 uses.
func TestRFC9421_B26SignEd25519(t *testing.T) {
	var vectors rfc9421Vectors
	sigTestJSON(t, "testdata/rfc9421/vectors.json", &vectors)
	priv, err := ParsePrivateKey(string(sigTestReadFile(t, "testdata/rfc9421/keys/test-key-ed25519.key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	s, err := signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range vectors.Cases {
		if c.Name != "b26-ed25519" {
			continue
		}
		sig, err := s.Sign(nil, []byte(c.SignatureBase), crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(strings.TrimPrefix(c.Signature, "sig-b26=:"), ":")
		if got := base64.StdEncoding.EncodeToString(sig); got != want {
			t.Fatalf("signature %s, want %s", got, want)
		}
		return
	}
	t.Fatal("no b26-ed25519 case")
}

// A request Starling signs with an Ed25519 key verifies, says it was
// Ed25519, and its key round-trips through Multikey.
func TestSignRequestRFC9421_Ed25519(t *testing.T) {
	multibase, privPEM, err := GenerateEd25519Key()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := DecodeMultikey(multibase)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"Create"}`)
	r, _ := http.NewRequest(http.MethodPost, "https://remote.example/inbox", bytes.NewReader(body))
	now := time.Now()
	if err := SignRequestRFC9421(r, "https://here.example/users/a#ed25519-key", priv, body, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Header.Get("Signature-Input"), `alg="ed25519"`) {
		t.Fatalf("Signature-Input %q", r.Header.Get("Signature-Input"))
	}
	v, err := VerifyRequest(context.Background(), r, body, now, func(ctx context.Context, keyID string, refresh bool) (crypto.PublicKey, string, error) {
		return pub, "https://here.example/users/a", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v.Standard != StandardRFC9421 || !v.Ed25519 {
		t.Fatalf("verification %+v", v)
	}
}

func TestAcceptedStandard(t *testing.T) {
	for _, c := range []struct {
		name, value string
		want        Standard
		ok          bool
	}{
		{"Ed25519", AcceptSignatureEd25519, StandardRFC9421Ed25519, true},
		{"RSA", `sig1=("@method" "@target-uri");alg="rsa-v1_5-sha256"`, StandardRFC9421, true},
		{"AnyKey", `sig1=("@method" "@target-uri");keyid="x"`, StandardRFC9421, true},
		{"Both", `a=("@method");alg="rsa-pss-sha512", b=("@method");alg="ed25519"`, StandardRFC9421Ed25519, true},
		{"HMACOnly", `sig1=("@method");alg="hmac-sha256"`, "", false},
		{"Junk", `(((`, "", false},
		{"None", "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.value != "" {
				h.Set("Accept-Signature", c.value)
			}
			std, ok := AcceptedStandard(h)
			if std != c.want || ok != c.ok {
				t.Fatalf("AcceptedStandard = %q, %v; want %q, %v", std, ok, c.want, c.ok)
			}
		})
	}
}
