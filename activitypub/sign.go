package activitypub

import (
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-fed/httpsig"
)

// SignRequest signs r in place for delivery, draft-cavage style, with a fresh
// Date set to now (RFC 1123 in GMT, http.TimeFormat).
//
// A request with a body (body != nil, even if empty) gets a Digest header of
// the form "SHA-256=<base64>" and is signed over
// "(request-target) host date digest"; a request without one is signed over
// "(request-target) host date". body must be exactly the bytes that will be
// sent.
//
// The key must be an *rsa.PrivateKey; the signature is RSASSA-PKCS1-v1_5 with
// SHA-256, which every fediverse server accepts. Any Date, Digest or Signature
// already on r is replaced, so a retry may sign the same request again.
//
// SignRequest is safe for concurrent use on different requests.
func SignRequest(r *http.Request, keyID string, key crypto.PrivateKey, body []byte, now time.Time) error {
	if r.URL == nil {
		return errors.New("sign request: request has no URL")
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}

	headers := []string{httpsig.RequestTarget, "host", "date"}
	if body != nil {
		headers = append(headers, "digest")
	}
	// A Signer keeps hash state and is not safe for concurrent use; making one
	// per request is cheap next to the RSA operation.
	signer, algo, err := httpsig.NewSigner([]httpsig.Algorithm{httpsig.RSA_SHA256}, httpsig.DigestSha256, headers, httpsig.Signature, 0)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	if algo != httpsig.RSA_SHA256 {
		// NewSigner silently falls back to another algorithm.
		return fmt.Errorf("sign request: httpsig chose %s instead of %s", algo, httpsig.RSA_SHA256)
	}

	// httpsig reads Host from the header map, but Go sends r.Host (falling back
	// to r.URL.Host) and never the header: sign what goes on the wire.
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	r.Header.Set("Host", host)
	r.Header.Set("Date", now.UTC().Format(http.TimeFormat))
	// httpsig refuses to overwrite a Digest and appends a second Signature
	// rather than replacing the first.
	r.Header.Del("Digest")
	r.Header.Del("Signature")

	// httpsig builds (request-target) from the decoded URL.Path, while Go
	// sends the escaped path ("/tags/caf%C3%A9", not "/tags/café") and "/" for
	// an empty one. Hand it a request whose Path is the wire form; it shares
	// r.Header, so the Digest and Signature land on r.
	path, query, _ := strings.Cut(r.URL.RequestURI(), "?")
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	wire := &http.Request{
		Method: method,
		URL:    &url.URL{Path: path, RawQuery: query},
		Header: r.Header,
	}
	if err := signer.SignRequest(key, keyID, wire, body); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	return nil
}
