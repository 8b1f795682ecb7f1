//go:build !(cgo && linux)

package activitypub

import (
	"crypto/rsa"
	"errors"
)

// libcryptoKey is never made in this build: signing uses crypto/rsa.
type libcryptoKey struct{}

func loadLibcrypto() error {
	return errors.New("libcrypto is not in this build (it needs cgo, on Linux)")
}

func newLibcryptoKey(*rsa.PrivateKey) (*libcryptoKey, error) { return nil, loadLibcrypto() }

func (*libcryptoKey) signSHA256([]byte, int) ([]byte, error) {
	return nil, errors.New("libcrypto: not in this build")
}
