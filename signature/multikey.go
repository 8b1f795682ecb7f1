package signature

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// FEP-521a publishes an actor's keys as Multikey objects whose
// publicKeyMultibase is "z" (multibase base58btc) followed by the base58
// of the multicodec prefix and the raw key. Only Ed25519 (prefix 0xed 0x01,
// the varint of 0xed) is supported: it is what Mastodon and Fedify publish.

// ed25519Multicodec is the varint of the multicodec ed25519-pub (0xed).
var ed25519Multicodec = []byte{0xed, 0x01}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// EncodeMultikey returns the publicKeyMultibase of an Ed25519 public key.
func EncodeMultikey(key ed25519.PublicKey) string {
	b := make([]byte, 0, len(ed25519Multicodec)+len(key))
	b = append(append(b, ed25519Multicodec...), key...)
	return "z" + base58Encode(b)
}

// DecodeMultikey decodes a publicKeyMultibase holding an Ed25519 key. Any
// other multibase or key type is an error.
func DecodeMultikey(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(s, "z")
	if !ok {
		return nil, errors.New("multikey: not base58btc (no 'z' prefix)")
	}
	b, err := base58Decode(rest)
	if err != nil {
		return nil, fmt.Errorf("multikey: %w", err)
	}
	if len(b) != len(ed25519Multicodec)+ed25519.PublicKeySize || b[0] != ed25519Multicodec[0] || b[1] != ed25519Multicodec[1] {
		return nil, errors.New("multikey: not an Ed25519 public key")
	}
	return ed25519.PublicKey(b[len(ed25519Multicodec):]), nil
}

func base58Encode(b []byte) string {
	n := new(big.Int).SetBytes(b)
	var out []byte
	base, mod := big.NewInt(58), new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, base, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func base58Decode(s string) ([]byte, error) {
	if len(s) > 128 {
		return nil, errors.New("base58 value too long")
	}
	n := new(big.Int)
	base := big.NewInt(58)
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base58Alphabet, s[i])
		if d < 0 {
			return nil, fmt.Errorf("invalid base58 character %q", s[i])
		}
		n.Mul(n, base).Add(n, big.NewInt(int64(d)))
	}
	var zeros int
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	return append(make([]byte, zeros), n.Bytes()...), nil
}

// GenerateEd25519Key makes an Ed25519 key pair and returns the public key
// as a publicKeyMultibase and the private key as PKCS#8 PEM, the form
// ParsePrivateKey reads and the store keeps.
func GenerateEd25519Key() (multibase, privatePEM string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate ed25519 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", fmt.Errorf("generate ed25519 key: %w", err)
	}
	return EncodeMultikey(pub), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}
