package signature

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
)

// signer returns key as a crypto.Signer, refusing kinds of key that no
// fediverse signature uses.
func signer(key crypto.PrivateKey) (crypto.Signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
}
