package signature

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-fed/httpsig"
)

// SignRequest signs r in place for delivery, draft-cavage style, with a fresh
// Date set to now (RFC 1123 in GMT, http.TimeFormat), through go-fed/httpsig.
//
// A request with a body (body != nil, even if empty) gets a Digest header of
// the form "SHA-256=<base64>" and is signed over
// "(request-target) host date digest"; a request without one is signed over
// "(request-target) host date". body must be exactly the bytes that will be
// sent.
//
// The key is an *rsa.PrivateKey; the signature is RSASSA-PKCS1-v1_5 with
// SHA-256. go-fed writes algorithm="hs2019", which Mastodon, GoToSocial,
// Misskey and Fedify accept (and which VerifyRequest accepts). Any Date,
// Digest or Signature already on r is replaced, so a retry may sign the
// same request again.
//
// SignRequest is safe for concurrent use on different requests: each call
// has its own httpsig.Signer, which holds hash state and is not.
func SignRequest(r *http.Request, keyID string, key crypto.PrivateKey, body []byte, now time.Time) error {
	if r.URL == nil {
		return errors.New("sign request: request has no URL")
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return fmt.Errorf("sign request: draft-cavage signatures need an RSA key, not %T", key)
	}
	if strings.ContainsAny(keyID, "\"\r\n") {
		return fmt.Errorf("sign request: keyId %q cannot be quoted", keyID)
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	// Sign what goes on the wire: Go sends r.Host (falling back to
	// r.URL.Host), the escaped path ("/" for an empty one), and GET for an
	// empty method. go-fed reads host from the header (Go keeps it in
	// r.Host) and writes r.URL.Path as it is, so it signs a copy whose
	// header map is r's own.
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	u := *r.URL
	u.Path, u.RawPath = u.EscapedPath(), ""
	if u.Path == "" {
		u.Path = "/"
	}
	c := *r
	c.URL = &u
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	headers := []string{httpsig.RequestTarget, "host", "date"}
	if body != nil {
		headers = append(headers, "digest")
	}
	for _, h := range []string{"Digest", "Signature", "Signature-Input", "Content-Digest", "Authorization"} {
		r.Header.Del(h)
	}
	r.Header.Set("Host", host)
	r.Header.Set("Date", now.UTC().Format(http.TimeFormat))
	s, _, err := httpsig.NewSigner([]httpsig.Algorithm{httpsig.RSA_SHA256}, httpsig.DigestSha256, headers, httpsig.Signature, 0)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	if err := s.SignRequest(rsaKey, keyID, &c, body); err != nil {
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
// The fields and the signature base are written directly rather than
// through httpsfv: their shape is fixed, and with an Ed25519 key the
// structured-field encoder cost more than the signature (TestSignRFC9421Fields
// checks the output against httpsfv's).
//
// SignRequestRFC9421 is safe for concurrent use on different requests.
func SignRequestRFC9421(r *http.Request, keyID string, key crypto.PrivateKey, body []byte, now time.Time) error {
	if r.URL == nil {
		return errors.New("sign request: request has no URL")
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	s, err := signer(key)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	var alg string
	switch s.Public().(type) {
	case *rsa.PublicKey:
		alg = AlgRSAv15SHA256
	case ed25519.PublicKey:
		alg = AlgEd25519
	}
	for i := 0; i < len(keyID); i++ {
		// sf-string (RFC 8941 section 3.3.3): printable ASCII only.
		if c := keyID[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("sign request: keyid %q is not printable ASCII", keyID)
		}
	}
	for _, h := range []string{"Signature", "Signature-Input", "Digest", "Content-Digest", "Authorization"} {
		delete(r.Header, h)
	}
	r.Header["Date"] = []string{now.UTC().Format(http.TimeFormat)}

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
	msg := requestMessage(&http.Request{Method: method, Host: host, URL: r.URL}, scheme)
	target := r.URL.RequestURI()
	if strings.ContainsAny(method, "\r\n") || strings.ContainsAny(target, "\r\n") || strings.ContainsAny(msg.authority, "\r\n") {
		return errors.New("sign request: a covered component has a line break")
	}

	// The inner list, then its parameters: the @signature-params value and
	// Signature-Input's member.
	var params strings.Builder
	params.Grow(160 + len(keyID))
	params.WriteString(`("@method" "@target-uri" "@authority"`)
	if body != nil {
		params.WriteString(` "content-digest"`)
	}
	params.WriteString(`);created=`)
	params.WriteString(strconv.FormatInt(now.Unix(), 10))
	params.WriteString(`;keyid=`)
	writeSFString(&params, keyID)
	params.WriteString(`;alg=`)
	writeSFString(&params, alg)
	paramsValue := params.String()

	var base strings.Builder
	base.Grow(len(method) + 2*len(msg.authority) + len(scheme) + len(target) + len(paramsValue) + 160)
	base.WriteString(`"@method": `)
	base.WriteString(method)
	base.WriteString("\n\"@target-uri\": ")
	base.WriteString(scheme)
	base.WriteString("://")
	base.WriteString(msg.authority)
	base.WriteString(target)
	base.WriteString("\n\"@authority\": ")
	base.WriteString(msg.authority)
	if body != nil {
		sum := sha256.Sum256(body)
		digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
		r.Header["Content-Digest"] = []string{digest}
		base.WriteString("\n\"content-digest\": ")
		base.WriteString(digest)
	}
	base.WriteString("\n\"@signature-params\": ")
	base.WriteString(paramsValue)

	var sig []byte
	if alg == AlgEd25519 {
		sig, err = s.Sign(nil, []byte(base.String()), crypto.Hash(0))
	} else {
		sum := sha256.Sum256([]byte(base.String()))
		sig, err = s.Sign(nil, sum[:], crypto.SHA256)
	}
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	r.Header["Signature-Input"] = []string{"sig1=" + paramsValue}
	r.Header["Signature"] = []string{"sig1=:" + base64.StdEncoding.EncodeToString(sig) + ":"}
	return nil
}

// writeSFString writes v as an RFC 8941 string; v is printable ASCII.
func writeSFString(b *strings.Builder, v string) {
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}
