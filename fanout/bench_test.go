package fanout

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
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
	act := &cachedActivity{payload: []byte(strings.Repeat("x", 1500)), typ: "Create", keyID: srv.URL + "/users/a#main-key", key: key}
	ctx := context.Background()
	d := &Deliverer{Client: federation.NewDeliveryClient(10*time.Second, true), UserAgent: "bench"}
	for b.Loop() {
		if err := d.attempt(ctx, srv.URL+"/inbox", act); err != nil {
			b.Fatal(err)
		}
	}
}
