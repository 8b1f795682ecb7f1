package federation

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"testing"
)

// The signature package's test material: Mastodon's own vectors and keys.
const (
	mastodonVectorsPath = "../signature/testdata/mastodon-signatures/vectors.json"
	bobKeyPath          = "../signature/testdata/mastodon-signatures/bob-rsa.key.pem"
	bobPubPath          = "../signature/testdata/mastodon-signatures/bob-rsa.pub.pem"
)

// mastodonVectors is the part of mastodon-signatures/vectors.json read here.
type mastodonVectors struct {
	Clock string `json:"clock"`
	Cases []struct {
		Name            string            `json:"name"`
		Method          string            `json:"method"`
		Path            string            `json:"path"`
		Headers         map[string]string `json:"headers"`
		MastodonExpects string            `json:"mastodon_expects"`
	} `json:"cases"`
}

func sigTestReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func sigTestJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	if err := json.Unmarshal(sigTestReadFile(tb, path), v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

func sigTestPrivateKey(tb testing.TB, path string) *rsa.PrivateKey {
	tb.Helper()
	block, _ := pem.Decode(sigTestReadFile(tb, path))
	if block == nil {
		tb.Fatalf("%s: no PEM block", path)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return key
}

// fakeKeyLookup is a signature.KeyLookup that always finds cached.
type fakeKeyLookup struct {
	cached crypto.PublicKey
	owner  string
}

func (l *fakeKeyLookup) lookup(ctx context.Context, keyID string, refresh bool) (crypto.PublicKey, string, error) {
	return l.cached, l.owner, nil
}
