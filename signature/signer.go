package activitypub

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
)

// Signing is most of what a delivery costs: one RSA-2048 signature per
// inbox per attempt. crypto/rsa's constant-time code takes 1.14–1.49 ms
// per signature on the 2-core machines Starling is measured on; OpenSSL 3's
// libcrypto takes 0.62–0.74 ms for the same, byte-identical, PKCS#1 v1.5
// signature (BENCHMARKS.md). So an RSA key parsed here signs through the
// system's libcrypto.so.3 when it can be loaded, and through crypto/rsa
// when it cannot (no cgo, not Linux, no OpenSSL 3) or when
// STARLING_LIBCRYPTO=off asks for that.
//
// No maintained Go binding to OpenSSL is served by the module proxy here
// (golang-fips/openssl and microsoft/go-crypto-openssl are not, and
// libp2p/go-openssl is archived and needs OpenSSL's headers to build), so
// the binding is the few functions in libcrypto_linux.go, opened with
// dlopen so that building needs nothing but a C compiler.

// RSAKey is an RSA private key that signs through libcrypto where it can.
// It is a crypto.Signer, so it goes wherever an *rsa.PrivateKey would.
type RSAKey struct {
	key    *rsa.PrivateKey
	native *libcryptoKey // nil: crypto/rsa signs
}

// SigningBackend names what signs with RSA keys in this process, "libcrypto"
// or "crypto/rsa", and when it is crypto/rsa, why libcrypto is not used.
func SigningBackend() (string, error) {
	if os.Getenv("STARLING_LIBCRYPTO") == "off" {
		return "crypto/rsa", errors.New("STARLING_LIBCRYPTO=off")
	}
	if err := loadLibcrypto(); err != nil {
		return "crypto/rsa", err
	}
	return "libcrypto", nil
}

// NewRSAKey wraps key. The error says why libcrypto will not sign with it;
// the returned key is usable either way, and signs with crypto/rsa then.
func NewRSAKey(key *rsa.PrivateKey) (*RSAKey, error) {
	k := &RSAKey{key: key}
	if os.Getenv("STARLING_LIBCRYPTO") == "off" {
		return k, nil
	}
	native, err := newLibcryptoKey(key)
	if err != nil {
		return k, err
	}
	// One signature checked against the public key proves that libcrypto
	// holds the same key, for the price of a verification (~40 µs).
	sum := sha256.Sum256([]byte("starling libcrypto self-test"))
	sig, err := native.signSHA256(sum[:], key.Size())
	if err == nil {
		err = rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig)
	}
	if err != nil {
		return k, fmt.Errorf("libcrypto self-test: %w", err)
	}
	k.native = native
	return k, nil
}

// Public returns the *rsa.PublicKey.
func (k *RSAKey) Public() crypto.PublicKey { return &k.key.PublicKey }

// Sign signs digest. A SHA-256 digest with PKCS#1 v1.5 padding, what both
// signature standards use for RSA keys, goes to libcrypto; anything else to
// crypto/rsa.
func (k *RSAKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); k.native != nil && !pss && opts.HashFunc() == crypto.SHA256 {
		return k.native.signSHA256(digest, k.key.Size())
	}
	return k.key.Sign(rand, digest, opts)
}

// Libcrypto reports whether libcrypto signs for k.
func (k *RSAKey) Libcrypto() bool { return k.native != nil }

// signer returns key as a crypto.Signer, refusing kinds of key that no
// fediverse signature uses.
func signer(key crypto.PrivateKey) (crypto.Signer, error) {
	switch k := key.(type) {
	case *RSAKey, ed25519.PrivateKey:
		return k.(crypto.Signer), nil
	case *rsa.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
}
