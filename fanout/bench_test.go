package fanout

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/signature"
)

// BenchmarkSign is one RSA-2048 delivery signature: the floor of a delivery's cost.
func BenchmarkSign(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	body := []byte(strings.Repeat("x", 1500))
	for b.Loop() {
		req, _ := http.NewRequest("POST", "http://127.0.0.1/inbox", nil)
		if err := signature.SignRequest(req, "http://127.0.0.1/users/a#main-key", key, body, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignDelivery is one delivery's signature by each standard the
// Knocker chooses from, on a 1,500-byte activity: draft-cavage and RFC
// 9421 with the RSA-2048 key, and RFC 9421 with the Ed25519 key.
func BenchmarkSignDelivery(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	keys := federation.Keys{KeyID: "http://127.0.0.1/users/a#main-key", Key: rsaKey,
		Ed25519KeyID: "http://127.0.0.1/users/a#ed25519-key", Ed25519: edKey}
	body := []byte(strings.Repeat("x", 1500))
	k := &federation.Knocker{}
	for _, std := range []signature.Standard{signature.StandardCavage, signature.StandardRFC9421, signature.StandardRFC9421Ed25519} {
		b.Run(string(std), func(b *testing.B) {
			for b.Loop() {
				req, _ := http.NewRequest("POST", "http://127.0.0.1/inbox", nil)
				if err := k.Sign(req, std, keys, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAttempt is one delivery attempt over a kept-alive loopback
// connection: build, sign, POST, read the answer. Its excess over
// BenchmarkSign is the delivery path's own cost (the remote's is included,
// since the test server shares the process).
func BenchmarkAttempt(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	act := &cachedActivity{payload: []byte(strings.Repeat("x", 1500)), typ: "Create"}
	act.keys.Store(&federation.Keys{KeyID: srv.URL + "/users/a#main-key", Key: key})
	ctx := context.Background()
	d := &Deliverer{Client: federation.NewDeliveryClient(10*time.Second, true), UserAgent: "bench"}
	for b.Loop() {
		if err := d.attempt(ctx, srv.URL+"/inbox", act); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAttemptEd25519 is BenchmarkAttempt through the Knocker for a
// host known to verify Ed25519: the warm delivery of an all-Ed25519 fleet,
// where signing is no longer most of the cost.
func BenchmarkAttemptEd25519(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Accept-Signature", `sig1=("@method" "@target-uri" "@authority" "content-digest");alg="ed25519"`)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	act := &cachedActivity{payload: []byte(strings.Repeat("x", 1500)), typ: "Create"}
	act.keys.Store(&federation.Keys{KeyID: srv.URL + "/users/a#main-key", Key: rsaKey,
		Ed25519KeyID: srv.URL + "/users/a/ed25519-key", Ed25519: edKey})
	ctx := context.Background()
	k := &federation.Knocker{}
	host := strings.TrimPrefix(srv.URL, "http://")
	k.Learn(ctx, host, signature.StandardRFC9421Ed25519)
	if got := k.Preferred(ctx, host); got != signature.StandardRFC9421Ed25519 {
		b.Fatalf("preferred %s", got)
	}
	d := &Deliverer{Client: federation.NewDeliveryClient(10*time.Second, true), UserAgent: "bench", Knocker: k}
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if err := d.attempt(ctx, srv.URL+"/inbox", act); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time the process has used, user and system: on a
// shared machine it varies less than the wall time ns/op reports, since
// time this process waited for a core is not in it.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
