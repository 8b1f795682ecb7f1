package activitypub

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
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

// SignRequestRFC9421 signs r in place with an RFC 9421 HTTP Message
// Signature, label "sig1", created at now.
//
// The signature covers "@method" "@target-uri" "@authority", and also
// "content-digest" when body != nil, in which case a Content-Digest field
// (RFC 9530, sha-256) is set; body must be exactly the bytes that will be
// sent. The key is an *rsa.PrivateKey (signed as rsa-v1_5-sha256, what
// Mastodon and Fedify send for RSA keys) or an ed25519.PrivateKey. A Date
// header is set too, for receivers that log it. Any signature fields already
// on r, of either standard, are replaced, so a retry may sign the same
// request again.
//
// SignRequestRFC9421 is safe for concurrent use on different requests.
func SignRequestRFC9421(r *http.Request, keyID string, key crypto.PrivateKey, body []byte, now time.Time) error {
	if r.URL == nil {
		return errors.New("sign request: request has no URL")
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	var alg string
	switch key.(type) {
	case *rsa.PrivateKey:
		alg = AlgRSAv15SHA256
	case ed25519.PrivateKey:
		alg = AlgEd25519
	default:
		return fmt.Errorf("sign request: unsupported key type %T", key)
	}
	for _, h := range []string{"Signature", "Signature-Input", "Digest", "Content-Digest", "Authorization"} {
		r.Header.Del(h)
	}
	r.Header.Set("Date", now.UTC().Format(http.TimeFormat))

	names := []string{"@method", "@target-uri", "@authority"}
	if body != nil {
		sum := sha256.Sum256(body)
		digest, err := httpsfv.Marshal(sfDictionary("sha-256", httpsfv.NewItem(sum[:])))
		if err != nil {
			return fmt.Errorf("sign request: %w", err)
		}
		r.Header.Set("Content-Digest", digest)
		names = append(names, "content-digest")
	}
	il := httpsfv.InnerList{Params: httpsfv.NewParams()}
	for _, n := range names {
		il.Items = append(il.Items, httpsfv.NewItem(n))
	}
	il.Params.Add("created", now.Unix())
	il.Params.Add("keyid", keyID)
	il.Params.Add("alg", alg)
	paramsValue, err := httpsfv.Marshal(httpsfv.List{il})
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	s := rfc9421Signature{components: il.Items, paramsValue: paramsValue}

	scheme := r.URL.Scheme
	if scheme == "" {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	msg := requestMessage(&http.Request{Method: method, Host: host, URL: r.URL, Header: r.Header}, scheme)
	msg.target = r.URL.RequestURI()
	base, err := s.signatureBase(msg)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sum := sha256.Sum256([]byte(base))
		sig, err = rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(base))
	}
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	sigValue, err := httpsfv.Marshal(sfDictionary("sig1", httpsfv.NewItem(sig)))
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	inputValue, err := httpsfv.Marshal(sfDictionary("sig1", il))
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	r.Header.Set("Signature-Input", inputValue)
	r.Header.Set("Signature", sigValue)
	return nil
}

// sfDictionary is a one-member structured-field dictionary.
func sfDictionary(name string, m httpsfv.Member) *httpsfv.Dictionary {
	d := httpsfv.NewDictionary()
	d.Add(name, m)
	return d
}
