package activitypub

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-fed/httpsig"
)

// signerTestKeys are keys of the sizes the fediverse uses, and the odd
// 1024-bit key of the draft's appendix.
func signerTestKeys(tb testing.TB) map[string]*rsa.PrivateKey {
	tb.Helper()
	k4096, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]*rsa.PrivateKey{
		"cavage-1024": sigTestPrivateKey(tb, cavageKeyPath),
		"bob-2048":    sigTestPrivateKey(tb, bobKeyPath),
		"new-4096":    k4096,
	}
}

// requireLibcrypto fails in CI when libcrypto cannot sign: deliveries would
// still be signed, at half the rate, and nobody would notice otherwise.
// Elsewhere it only logs.
func requireLibcrypto(t *testing.T) {
	t.Helper()
	backend, why := SigningBackend()
	if why == nil {
		return
	}
	if os.Getenv("CI") != "" && os.Getenv("STARLING_LIBCRYPTO") != "off" {
		t.Fatalf("signing with %s in CI: %v (install libssl3, build with cgo)", backend, why)
	}
	t.Logf("signing with %s: %v", backend, why)
}

// PKCS#1 v1.5 is deterministic: libcrypto must produce crypto/rsa's bytes.
func TestRSAKey_SameSignatureAsCryptoRSA(t *testing.T) {
	requireLibcrypto(t)
	for name, key := range signerTestKeys(t) {
		t.Run(name, func(t *testing.T) {
			k, err := NewRSAKey(key)
			if err != nil {
				t.Logf("libcrypto not used: %v", err)
			}
			if _, why := SigningBackend(); why == nil && !k.Libcrypto() {
				t.Fatal("libcrypto loads but does not sign")
			}
			if k.Public().(*rsa.PublicKey).N.Cmp(key.N) != 0 {
				t.Fatal("Public is another key")
			}
			for i := range 20 {
				sum := sha256.Sum256(bytes.Repeat([]byte{byte(i)}, i*37))
				got, err := k.Sign(nil, sum[:], crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				want, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("digest %d: libcrypto and crypto/rsa differ", i)
				}
			}
		})
	}
}

func TestRSAKey_OtherOptionsUseCryptoRSA(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	k, _ := NewRSAKey(key)
	sum := sha256.Sum256([]byte("pss"))
	sig, err := k.Sign(rand.Reader, sum[:], &rsa.PSSOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&key.PublicKey, crypto.SHA256, sum[:], sig, nil); err != nil {
		t.Errorf("PSS signature does not verify: %v", err)
	}
	if _, err := k.Sign(nil, sum[:20], crypto.SHA1); err != nil {
		t.Errorf("SHA-1 digest: %v", err)
	}
	if _, err := k.Sign(nil, sum[:20], crypto.SHA256); err == nil {
		t.Error("a 20-byte digest signed as SHA-256")
	}
}

func TestRSAKey_Off(t *testing.T) {
	t.Setenv("STARLING_LIBCRYPTO", "off")
	key := sigTestPrivateKey(t, bobKeyPath)
	k, err := NewRSAKey(key)
	if err != nil || k.Libcrypto() {
		t.Fatalf("STARLING_LIBCRYPTO=off: libcrypto %v, err %v", k.Libcrypto(), err)
	}
	if backend, why := SigningBackend(); backend != "crypto/rsa" || why == nil {
		t.Errorf("SigningBackend() = %q, %v", backend, why)
	}
	sum := sha256.Sum256([]byte("off"))
	got, _ := k.Sign(nil, sum[:], crypto.SHA256)
	want, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if !bytes.Equal(got, want) {
		t.Error("crypto/rsa fallback signs differently")
	}
}

// More signers than contexts: they queue for one, and every signature is
// still right. Run with -race.
func TestRSAKey_Concurrent(t *testing.T) {
	requireLibcrypto(t)
	key := sigTestPrivateKey(t, bobKeyPath)
	k, _ := NewRSAKey(key)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			sum := sha256.Sum256([]byte(strings.Repeat("y", i)))
			sig, err := k.Sign(nil, sum[:], crypto.SHA256)
			if err == nil {
				err = rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// SignRequest writes what go-fed/httpsig, which signed deliveries before it,
// writes for the same request: the same Digest and the same signature bytes,
// under Mastodon's algorithm name instead of hs2019.
func TestSignRequest_SameAsHTTPSig(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	k, _ := NewRSAKey(key)
	now := time.Date(2026, 11, 21, 8, 30, 0, 0, time.UTC)
	keyID := "https://example.org/users/alice#main-key"
	tests := []struct {
		name, method, url string
		body              []byte
	}{
		{"POST", http.MethodPost, "https://remote.example/inbox", []byte(`{"type":"Create"}`)},
		{"Query", http.MethodPost, "https://remote.example/users/bob/inbox?x=1", []byte("{}")},
		{"GET", http.MethodGet, "https://remote.example/users/bob", nil},
		{"Port", http.MethodGet, "https://remote.example:8443/tags/caf%C3%A9", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours, _ := http.NewRequest(tt.method, tt.url, nil)
			if err := SignRequest(ours, keyID, k, tt.body, now); err != nil {
				t.Fatal(err)
			}

			theirs, _ := http.NewRequest(tt.method, tt.url, nil)
			headers := []string{httpsig.RequestTarget, "host", "date"}
			if tt.body != nil {
				headers = append(headers, "digest")
			}
			s, _, err := httpsig.NewSigner([]httpsig.Algorithm{httpsig.RSA_SHA256}, httpsig.DigestSha256, headers, httpsig.Signature, 0)
			if err != nil {
				t.Fatal(err)
			}
			theirs.Header.Set("Host", theirs.URL.Host)
			theirs.Header.Set("Date", now.Format(http.TimeFormat))
			// httpsig signs URL.Path decoded; hand it the wire form.
			theirs.URL.Path = theirs.URL.EscapedPath()
			theirs.URL.RawPath = ""
			if err := s.SignRequest(key, keyID, theirs, tt.body); err != nil {
				t.Fatal(err)
			}

			if got, want := ours.Header.Get("Digest"), theirs.Header.Get("Digest"); got != want {
				t.Errorf("Digest = %q, httpsig %q", got, want)
			}
			want := strings.Replace(theirs.Header.Get("Signature"), `algorithm="hs2019"`, `algorithm="rsa-sha256"`, 1)
			if got := ours.Header.Get("Signature"); got != want {
				t.Errorf("Signature\n ours   %s\n httpsig %s", got, want)
			}
		})
	}
}

// BenchmarkRSASign is one RSA-2048 PKCS#1 v1.5 signature of a SHA-256
// digest, by each backend. Run with -cpu 1,2: the parallel figure is the
// machine's signing ceiling.
func BenchmarkRSASign(b *testing.B) {
	key := sigTestPrivateKey(b, bobKeyPath)
	native, err := NewRSAKey(key)
	if err != nil {
		b.Logf("libcrypto: %v", err)
	}
	sum := sha256.Sum256([]byte("benchmark"))
	for _, bb := range []struct {
		name string
		key  crypto.Signer
	}{{"libcrypto", native}, {"crypto-rsa", key}} {
		b.Run(bb.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bb.key.Sign(nil, sum[:], crypto.SHA256); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// OpenSSL's AVX2 code path, which serve's probe may choose by masking ADX
// (cmd/starling/signprobe.go), must sign the same bytes: the test above
// runs again in a child process that loads libcrypto that way.
func TestRSAKey_AVX2Path(t *testing.T) {
	if os.Getenv("OPENSSL_ia32cap") != "" {
		t.Skip("already in the child")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestRSAKey_SameSignatureAsCryptoRSA$", "-test.v")
	cmd.Env = append(os.Environ(), "OPENSSL_ia32cap=:~0x80000")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRSAKey_SameSignatureAsCryptoRSA") {
		t.Fatalf("with ADX masked: %v\n%s", err, out)
	}
}
