package signature

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KeyLookup returns the public key for keyID and the URI of the actor that
// owns it.
//
// refresh=true means: bypass any cache and fetch again. VerifyRequest does
// this once after a signature fails to verify with the first key, so that a
// remote that rotated its key is not locked out until a cache expires.
type KeyLookup func(ctx context.Context, keyID string, refresh bool) (key crypto.PublicKey, owner string, err error)

// Standard names an HTTP signature standard.
type Standard string

// The two HTTP signature standards of the fediverse.
const (
	// StandardCavage is draft-cavage-http-signatures-12, which every
	// ActivityPub server speaks.
	StandardCavage Standard = "draft-cavage"
	// StandardRFC9421 is RFC 9421 HTTP Message Signatures (Mastodon 4.5+,
	// Fedify).
	StandardRFC9421 Standard = "rfc9421"
	// StandardRFC9421Ed25519 is RFC 9421 signed with the actor's Ed25519
	// key (FEP-521a) rather than its RSA key: what a host is known to
	// verify once it has signed to us that way.
	StandardRFC9421Ed25519 Standard = "rfc9421-ed25519"
)

// Verification is the result of a good signature.
type Verification struct {
	KeyID    string
	Owner    string   // actor URI owning the key, from KeyLookup
	Standard Standard // which standard the request was signed with
	Ed25519  bool     // signed with an Ed25519 key
}

// SignatureError is returned for every rejected request.
//
// Reason is short and safe to show to the remote (it goes into a 401 body);
// Err, when set, holds the detail for our own logs.
type SignatureError struct {
	Reason string
	Err    error
}

func (e *SignatureError) Error() string {
	if e.Err == nil {
		return "http signature: " + e.Reason
	}
	return "http signature: " + e.Reason + ": " + e.Err.Error()
}

func (e *SignatureError) Unwrap() error { return e.Err }

// Reasons given to remotes. Tests compare against these, so keep each
// failure mapped to exactly one of them.
const (
	reasonUnsigned       = "request is not signed"
	reasonMalformed      = "signature header is malformed"
	reasonAlgorithm      = "unsupported signature algorithm"
	reasonMissingHeader  = "a signed header is missing from the request"
	reasonBadDate        = "date header is not a valid HTTP date"
	reasonDateWindow     = "date is outside the accepted window"
	reasonExpired        = "signature has expired"
	reasonNoDigest       = "digest header is missing"
	reasonNoSHA256       = "digest has no SHA-256 entry"
	reasonDigestMismatch = "digest does not match body"
	reasonKeyFetch       = "could not fetch key"
	reasonBadSignature   = "signature does not verify"
	reasonCoverTarget    = "signature does not cover (request-target)"
	reasonCoverHost      = "signature does not cover host"
	reasonCoverDate      = "signature does not cover date"
	reasonCoverDigest    = "signature does not cover digest"
)

const (
	// maxClockSkew bounds how far Date may be from our clock, either way.
	maxClockSkew = time.Hour

	algorithmRSASHA256 = "rsa-sha256"
	algorithmHS2019    = "hs2019"

	pseudoHeaderTarget  = "(request-target)"
	pseudoHeaderCreated = "(created)"
	pseudoHeaderExpires = "(expires)"
)

// VerifyRequest verifies r's HTTP signature strictly: RFC 9421 when the
// request has a Signature-Input field, draft-cavage otherwise.
//
// RFC 9421: the signature must cover @method, @target-uri (or @authority
// with @path), and content-digest when there is a body; created is required
// and must be within an hour of now; Content-Digest must match body. The
// algorithm is rsa-v1_5-sha256, rsa-pss-sha512, ed25519 or ecdsa-p256-sha256
// (from alg, or inferred from the key when alg is absent). When several
// signatures are present, the first that verifies wins.
//
// Draft-cavage:
// body is the full request body, already read by the caller; it may be nil
// for GET. The signature is taken from the Signature header or from
// "Authorization: Signature ...". It must cover (request-target), host and
// date, and also digest when the request has a body or is a POST, PUT or
// PATCH; Date must be within an hour of now; and Digest must carry a SHA-256
// entry that matches body.
//
// Those checks all run before lookup is called, so junk costs no key fetch.
// lookup is then called with refresh=false and, only if the signature does not
// verify with that key, once more with refresh=true.
//
// Every rejection is a *SignatureError.
func VerifyRequest(ctx context.Context, r *http.Request, body []byte, now time.Time, lookup KeyLookup) (Verification, error) {
	// RFC 9421 reuses the Signature field with another syntax;
	// Signature-Input is what tells them apart.
	if len(r.Header.Values("Signature-Input")) > 0 {
		return verifyRFC9421Request(ctx, r, body, now, lookup)
	}
	raw, err := signatureHeader(r.Header)
	if err != nil {
		return Verification{}, err
	}
	params, err := parseSignatureHeader(raw)
	if err != nil {
		return Verification{}, &SignatureError{Reason: reasonMalformed, Err: err}
	}
	switch strings.ToLower(params.algorithm) {
	case "", algorithmRSASHA256, algorithmHS2019:
	default:
		return Verification{}, &SignatureError{Reason: reasonAlgorithm, Err: fmt.Errorf("algorithm %q", params.algorithm)}
	}

	needDigest := len(body) > 0 || r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch
	if err := checkSignatureCoverage(params.headers, needDigest); err != nil {
		return Verification{}, err
	}
	if err := checkSignatureTime(r.Header, params, now); err != nil {
		return Verification{}, err
	}
	// Some senders sign the newer Content-Digest (RFC 9530) instead of
	// Digest; whichever is signed must match the body.
	if slices.Contains(params.headers, "digest") || (needDigest && !slices.Contains(params.headers, "content-digest")) {
		if err := checkBodyDigest(r.Header, body); err != nil {
			return Verification{}, err
		}
	}
	if slices.Contains(params.headers, "content-digest") {
		if err := checkContentDigest(r.Header, body); err != nil {
			return Verification{}, err
		}
	}

	// Mastodon used to sign (request-target) without the query string, so
	// accept either form. Both are built now so a missing header fails
	// before any key fetch.
	target := requestTarget(r)
	candidates := make([]string, 0, 2)
	for _, t := range requestTargetVariants(target) {
		s, err := signingString(r, params, t)
		if err != nil {
			return Verification{}, &SignatureError{Reason: reasonMissingHeader, Err: err}
		}
		candidates = append(candidates, s)
	}

	key, owner, err := lookup(ctx, params.keyID, false)
	if err != nil {
		return Verification{}, &SignatureError{Reason: reasonKeyFetch, Err: err}
	}
	if err := checkCavageKeyType(params.algorithm, key); err != nil {
		return Verification{}, err
	}
	if verr := verifyAnySigningString(key, candidates, params.signature); verr != nil {
		// The remote may have rotated its key since we cached it.
		key, owner, err = lookup(ctx, params.keyID, true)
		if err != nil {
			return Verification{}, &SignatureError{Reason: reasonKeyFetch, Err: err}
		}
		if err := checkCavageKeyType(params.algorithm, key); err != nil {
			return Verification{}, err
		}
		if err := verifyAnySigningString(key, candidates, params.signature); err != nil {
			return Verification{}, &SignatureError{Reason: reasonBadSignature, Err: err}
		}
	}
	if owner == "" {
		return Verification{}, &SignatureError{Reason: reasonKeyFetch, Err: fmt.Errorf("key %q has no owner", params.keyID)}
	}
	return Verification{KeyID: params.keyID, Owner: owner, Standard: StandardCavage}, nil
}

// signatureHeader returns the draft-cavage parameter list of the request.
func signatureHeader(h http.Header) (string, error) {
	if vs := h.Values("Signature"); len(vs) > 0 {
		if len(vs) > 1 {
			return "", &SignatureError{Reason: reasonMalformed, Err: errors.New("more than one Signature header")}
		}
		if strings.TrimSpace(vs[0]) == "" {
			return "", &SignatureError{Reason: reasonUnsigned}
		}
		return vs[0], nil
	}
	for _, v := range h.Values("Authorization") {
		scheme, rest, _ := strings.Cut(strings.TrimLeft(v, " \t"), " ")
		if strings.EqualFold(scheme, "Signature") {
			return rest, nil
		}
	}
	return "", &SignatureError{Reason: reasonUnsigned}
}

// signatureParams holds a parsed draft-cavage signature parameter list.
type signatureParams struct {
	keyID     string
	algorithm string
	headers   []string // lower-case, in signed order
	signature []byte
	// created and expires are kept as sent: the signing string repeats them
	// verbatim.
	created, expires string
}

// parseSignatureHeader parses `name="value", name=value, ...`.
//
// Values may be quoted strings, which can hold commas, '=' and backslash
// escapes, so the list is scanned rather than split. Parameter names are
// matched case-insensitively, a repeated parameter is an error (two keyIds
// leave it unclear which one was meant), and unknown parameters are ignored
// as the draft requires.
func parseSignatureHeader(s string) (signatureParams, error) {
	var (
		p       signatureParams
		seen    = make(map[string]bool)
		headers string
		hasHdrs bool
		sig     string
	)
	for {
		s = trimOWS(s)
		if s == "" {
			break
		}
		if s[0] == ',' { // empty list element
			s = s[1:]
			continue
		}
		n := 0
		for n < len(s) && isTokenChar(s[n]) {
			n++
		}
		if n == 0 {
			return signatureParams{}, fmt.Errorf("expected a parameter name at %q", clipForError(s))
		}
		name := strings.ToLower(s[:n])
		s = trimOWS(s[n:])
		if s == "" || s[0] != '=' {
			return signatureParams{}, fmt.Errorf("parameter %q has no value", name)
		}
		s = trimOWS(s[1:])

		var value string
		if s != "" && s[0] == '"' {
			var err error
			value, s, err = parseQuotedString(s)
			if err != nil {
				return signatureParams{}, fmt.Errorf("parameter %q: %w", name, err)
			}
			s = trimOWS(s)
			if s != "" && s[0] != ',' {
				return signatureParams{}, fmt.Errorf("parameter %q: unexpected %q after quoted value", name, clipForError(s))
			}
		} else {
			// The draft quotes every string; bare values are tolerated for
			// created/expires and lenient senders, up to the next comma.
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			value, s = trimOWS(s[:end]), s[end:]
			if value == "" {
				return signatureParams{}, fmt.Errorf("parameter %q has no value", name)
			}
		}

		if seen[name] {
			return signatureParams{}, fmt.Errorf("parameter %q is repeated", name)
		}
		seen[name] = true
		switch name {
		case "keyid":
			p.keyID = value
		case "algorithm":
			p.algorithm = value
		case "headers":
			headers, hasHdrs = value, true
		case "signature":
			sig = value
		case "created":
			p.created = value
		case "expires":
			p.expires = value
		}
	}

	if p.keyID == "" {
		return signatureParams{}, errors.New("missing keyId")
	}
	if sig == "" {
		return signatureParams{}, errors.New("missing signature")
	}
	b, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return signatureParams{}, fmt.Errorf("signature is not base64: %w", err)
	}
	if len(b) == 0 {
		// The decoder skips CR and LF, so a non-empty value can decode to
		// nothing.
		return signatureParams{}, errors.New("signature is empty")
	}
	p.signature = b
	if p.created != "" {
		if _, err := strconv.ParseInt(p.created, 10, 64); err != nil {
			return signatureParams{}, fmt.Errorf("created is not an integer: %w", err)
		}
	}
	if p.expires != "" {
		// The draft lets expires carry a fraction of a second.
		exp, err := strconv.ParseFloat(p.expires, 64)
		if err != nil || math.IsNaN(exp) || math.IsInf(exp, 0) {
			return signatureParams{}, fmt.Errorf("expires %q is not a number", clipForError(p.expires))
		}
	}
	if hasHdrs {
		p.headers = strings.Fields(strings.ToLower(headers))
		if len(p.headers) == 0 {
			return signatureParams{}, errors.New("headers is empty")
		}
	} else {
		// Draft-cavage: an absent headers parameter means "date" alone.
		p.headers = []string{"date"}
	}
	return p, nil
}

// parseQuotedString reads an RFC 9110 quoted-string at the start of s and returns
// its unescaped value and the rest of s.
func parseQuotedString(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			i++
			if i == len(s) {
				return "", "", errors.New("unterminated quoted string")
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated quoted string")
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }

// clipForError keeps error messages about hostile input short.
func clipForError(s string) string {
	const n = 32
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// checkSignatureCoverage enforces the headers a signature must cover: without
// (request-target) and host it could be replayed to another endpoint or
// server, without date at any time, and without digest with another body.
func checkSignatureCoverage(headers []string, needDigest bool) error {
	covered := make(map[string]bool, len(headers))
	for _, h := range headers {
		covered[h] = true
	}
	switch {
	case !covered[pseudoHeaderTarget]:
		return &SignatureError{Reason: reasonCoverTarget}
	case !covered["host"]:
		return &SignatureError{Reason: reasonCoverHost}
	case !covered["date"]:
		return &SignatureError{Reason: reasonCoverDate}
	case needDigest && !covered["digest"] && !covered["content-digest"]:
		return &SignatureError{Reason: reasonCoverDigest}
	}
	return nil
}

// checkSignatureTime enforces the Date window and, when sent, the (expires) and
// (created) parameters.
func checkSignatureTime(h http.Header, p signatureParams, now time.Time) error {
	v := h.Get("Date")
	if v == "" {
		return &SignatureError{Reason: reasonMissingHeader, Err: errors.New("no Date header")}
	}
	date, err := http.ParseTime(v)
	if err != nil {
		return &SignatureError{Reason: reasonBadDate, Err: err}
	}
	if skew := now.Sub(date); skew > maxClockSkew || skew < -maxClockSkew {
		return &SignatureError{Reason: reasonDateWindow, Err: fmt.Errorf("date %s is %s from now", v, skew.Round(time.Second))}
	}
	if p.expires != "" {
		exp, _ := strconv.ParseFloat(p.expires, 64) // validated by the parser
		if float64(now.Unix()) > exp {
			return &SignatureError{Reason: reasonExpired}
		}
	}
	if p.created != "" {
		created, _ := strconv.ParseInt(p.created, 10, 64) // validated by the parser
		if time.Unix(created, 0).Sub(now) > maxClockSkew {
			return &SignatureError{Reason: reasonDateWindow, Err: errors.New("created is in the future")}
		}
	}
	return nil
}

// checkBodyDigest checks that Digest holds a SHA-256 entry equal to the body's.
// Digest is a list such as "SHA-256=..., SHA-512=..." (RFC 3230), possibly
// over several header lines; every SHA-256 entry must match.
func checkBodyDigest(h http.Header, body []byte) error {
	values := h.Values("Digest")
	if len(values) == 0 {
		return &SignatureError{Reason: reasonNoDigest}
	}
	sum := sha256.Sum256(body)
	want := base64.StdEncoding.EncodeToString(sum[:])
	found := false
	for _, v := range values {
		for entry := range strings.SplitSeq(v, ",") {
			alg, got, ok := strings.Cut(strings.TrimSpace(entry), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(alg), "SHA-256") {
				continue
			}
			found = true
			if strings.TrimSpace(got) != want {
				return &SignatureError{Reason: reasonDigestMismatch, Err: fmt.Errorf("body has SHA-256 %s, Digest says %s", want, clipForError(got))}
			}
		}
	}
	if !found {
		return &SignatureError{Reason: reasonNoSHA256}
	}
	return nil
}

// requestTarget returns the request target as the client sent it.
func requestTarget(r *http.Request) string {
	// On the server r.RequestURI is the raw target from the request line, while
	// r.URL may have been decoded, re-encoded or rewritten by middleware.
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// requestTargetVariants returns target and, if it has a query, target without it.
func requestTargetVariants(target string) []string {
	if path, _, ok := strings.Cut(target, "?"); ok {
		return []string{target, path}
	}
	return []string{target}
}

// signingString builds the draft-cavage signing string of r for the signed
// headers in p, with target as (request-target).
func signingString(r *http.Request, p signatureParams, target string) (string, error) {
	var b strings.Builder
	for i, name := range p.headers {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(name)
		b.WriteString(": ")
		switch name {
		case pseudoHeaderTarget:
			method := r.Method
			if method == "" {
				method = http.MethodGet
			}
			b.WriteString(strings.ToLower(method))
			b.WriteByte(' ')
			b.WriteString(target)
		case pseudoHeaderCreated:
			if p.created == "" {
				return "", errors.New("(created) is signed but the created parameter is missing")
			}
			b.WriteString(p.created)
		case pseudoHeaderExpires:
			if p.expires == "" {
				return "", errors.New("(expires) is signed but the expires parameter is missing")
			}
			b.WriteString(p.expires)
		default:
			values := r.Header.Values(name)
			if len(values) == 0 && name == "host" && r.Host != "" {
				// Go's server moves Host out of the header map.
				values = []string{r.Host}
			}
			if len(values) == 0 {
				return "", fmt.Errorf("signed header %q is missing", name)
			}
			for j, v := range values {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strings.TrimSpace(v))
			}
		}
	}
	return b.String(), nil
}

// checkCavageKeyType refuses an algorithm parameter that names another kind
// of key than the one found: rsa-sha256 with an Ed25519 key. hs2019 and an
// absent algorithm leave it to the key.
func checkCavageKeyType(algorithm string, key crypto.PublicKey) error {
	if strings.EqualFold(algorithm, algorithmRSASHA256) {
		if _, ok := key.(*rsa.PublicKey); !ok {
			return &SignatureError{Reason: reasonAlgorithm, Err: fmt.Errorf("algorithm %q with a %T key", algorithm, key)}
		}
	}
	return nil
}

// verifyAnySigningString reports whether sig is a signature by key over any of the
// candidate signing strings.
func verifyAnySigningString(key crypto.PublicKey, candidates []string, sig []byte) error {
	var err error
	for _, c := range candidates {
		if err = verifySignature(key, []byte(c), sig); err == nil {
			return nil
		}
	}
	return err
}

// verifySignature checks sig over msg with key.
//
// rsa-sha256 and hs2019 both mean RSASSA-PKCS1-v1_5 with SHA-256 for an RSA
// key: that is what the fediverse sends under either name, whatever the draft
// says about hs2019. hs2019 with an Ed25519 key is Ed25519 over the signing
// string (go-fed/httpsig's vectors).
func verifySignature(key crypto.PublicKey, msg, sig []byte) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		sum := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig)
	case ed25519.PublicKey:
		if !ed25519.Verify(k, msg, sig) {
			return errors.New("ed25519: verification error")
		}
		return nil
	case nil:
		return errors.New("no key")
	default:
		return fmt.Errorf("unsupported key type %T", key)
	}
}
