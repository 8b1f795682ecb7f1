package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/starling-social/starling/signature"
)

// signResult is what `starling bench sign --json` prints.
type signResult struct {
	PerSignature time.Duration `json:"per_signature_ns"`
}

// benchSign measures the signing of one delivery (RSA-2048, go-fed/httpsig
// over crypto/rsa, as deliveries are signed), on one core, in this process.
func benchSign(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("starling bench sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("signatures", 300, "signatures to time")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *n < 1 {
		return fmt.Errorf("--signatures %d: want at least 1", *n)
	}
	r := signResult{PerSignature: signingCost(*n)}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "RSA-2048 signature of a delivery, one core: %.3f ms\n", r.PerSignature.Seconds()*1000)
	return nil
}

// signingCost times n signatures of a delivery-sized request on one core,
// through signature.SignRequest, which deliveries use.
func signingCost(n int) time.Duration {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	return timeSigning(n, func(req *http.Request, body []byte) {
		_ = signature.SignRequest(req, "http://127.0.0.1/users/a#main-key", key, body, time.Now())
	})
}

// ed25519SigningCost times n RFC 9421 signatures with an Ed25519 key, as
// deliveries to hosts that verify them are signed.
func ed25519SigningCost(n int) time.Duration {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	return timeSigning(n, func(req *http.Request, body []byte) {
		_ = signature.SignRequestRFC9421(req, "http://127.0.0.1/users/a/ed25519-key", key, body, time.Now())
	})
}

func timeSigning(n int, sign func(*http.Request, []byte)) time.Duration {
	body := []byte(strings.Repeat("x", 1500))
	start := time.Now()
	for range n {
		req, _ := http.NewRequest("POST", "http://127.0.0.1/inbox", bytes.NewReader(body))
		sign(req, body)
	}
	return time.Since(start) / time.Duration(n)
}
