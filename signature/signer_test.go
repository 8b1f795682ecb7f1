package signature

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"
	"time"
)

// SignRequest (go-fed/httpsig underneath) writes the signature of the
// signing string a receiver rebuilds from the wire: method, escaped path
// and query, the Host sent, Date and Digest. PKCS#1 v1.5 is deterministic,
// so the expected header is built here by hand with crypto/rsa.
func TestSignRequest_SigningString(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	now := time.Date(2026, 11, 21, 8, 30, 0, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	keyID := "https://example.org/users/alice#main-key"
	tests := []struct {
		name, method, url, target, host string
		body                            []byte
	}{
		{"POST", http.MethodPost, "https://remote.example/inbox", "post /inbox", "remote.example", []byte(`{"type":"Create"}`)},
		{"Query", http.MethodPost, "https://remote.example/users/bob/inbox?x=1", "post /users/bob/inbox?x=1", "remote.example", []byte("{}")},
		{"GET", http.MethodGet, "https://remote.example/users/bob", "get /users/bob", "remote.example", nil},
		{"Port", http.MethodGet, "https://remote.example:8443/tags/caf%C3%A9", "get /tags/caf%C3%A9", "remote.example:8443", nil},
		{"EmptyPath", "", "https://remote.example", "get /", "remote.example", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(tt.method, tt.url, nil)
			r.Method = tt.method
			if err := SignRequest(r, keyID, key, tt.body, now); err != nil {
				t.Fatal(err)
			}
			str := "(request-target): " + tt.target + "\nhost: " + tt.host + "\ndate: " + date
			headers := "(request-target) host date"
			if tt.body != nil {
				sum := sha256.Sum256(tt.body)
				digest := "SHA-256=" + base64.StdEncoding.EncodeToString(sum[:])
				if got := r.Header.Get("Digest"); got != digest {
					t.Errorf("Digest = %q, want %q", got, digest)
				}
				str += "\ndigest: " + digest
				headers += " digest"
			}
			sum := sha256.Sum256([]byte(str))
			sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
			if err != nil {
				t.Fatal(err)
			}
			want := `keyId="` + keyID + `",algorithm="hs2019",headers="` + headers + `",signature="` + base64.StdEncoding.EncodeToString(sig) + `"`
			if got := r.Header.Get("Signature"); got != want {
				t.Errorf("Signature\n got  %s\n want %s", got, want)
			}
			if r.URL.String() != tt.url {
				t.Errorf("URL changed to %s", r.URL)
			}
		})
	}
}

// BenchmarkRSASign is one RSA-2048 PKCS#1 v1.5 signature of a SHA-256
// digest through crypto/rsa. Run with -cpu 1,2: the parallel figure is the
// machine's signing ceiling.
func BenchmarkRSASign(b *testing.B) {
	key := sigTestPrivateKey(b, bobKeyPath)
	sum := sha256.Sum256([]byte("benchmark"))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := key.Sign(nil, sum[:], crypto.SHA256); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
