package signature

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// RFC 9421 (HTTP Message Signatures), as Mastodon 4.5+ and Fedify send it.
//
// No maintained Go library for RFC 9421 is available to this project, so the
// signature base is built here on httpsfv (RFC 8941 structured fields) and
// checked against the RFC's Appendix B vectors. Only what the fediverse uses
// is implemented: request signatures, derived components other than
// @status, @query-param, and plain header fields without parameters.

// RFC 9421 algorithm names (the "alg" parameter, RFC 9421 section 6.2.2).
const (
	AlgRSAv15SHA256    = "rsa-v1_5-sha256"
	AlgRSAPSSSHA512    = "rsa-pss-sha512"
	AlgEd25519         = "ed25519"
	AlgECDSAP256SHA256 = "ecdsa-p256-sha256"
	AlgHMACSHA256      = "hmac-sha256"
)

// maxRFC9421Signatures bounds how many signatures of one request are tried:
// each may cost a key fetch.
const maxRFC9421Signatures = 4

// Reasons specific to RFC 9421.
const (
	reasonCoverMethod  = "signature does not cover @method"
	reasonCoverURI     = "signature does not cover @target-uri (or @authority and @path)"
	reasonCoverCDigest = "signature does not cover content-digest"
	reasonNoCreated    = "signature has no created parameter"
)

// rfc9421Signature is one member of the Signature-Input and Signature
// dictionaries.
type rfc9421Signature struct {
	label      string
	components []httpsfv.Item // covered components, in signed order
	params     *httpsfv.Params
	// paramsValue is the serialized inner list: the @signature-params line.
	paramsValue string
	signature   []byte

	keyID     string
	alg       string // "" when the sender left it to the key
	created   int64  // 0 when absent
	expires   int64  // 0 when absent
	hasCreate bool
}

// parseRFC9421 parses the Signature-Input and Signature fields of h into the
// signatures present in both, in Signature-Input order.
func parseRFC9421(h http.Header) ([]rfc9421Signature, error) {
	inputs, err := httpsfv.UnmarshalDictionary(h.Values("Signature-Input"))
	if err != nil {
		return nil, fmt.Errorf("Signature-Input: %w", err)
	}
	sigs, err := httpsfv.UnmarshalDictionary(h.Values("Signature"))
	if err != nil {
		return nil, fmt.Errorf("Signature: %w", err)
	}
	var out []rfc9421Signature
	for _, label := range inputs.Names() {
		m, _ := inputs.Get(label)
		sm, ok := sigs.Get(label)
		if !ok {
			continue // a signature input with no signature is not a signature
		}
		s, err := parseRFC9421Member(label, m, sm)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no Signature-Input member has a matching Signature member")
	}
	return out, nil
}

func parseRFC9421Member(label string, input, sig httpsfv.Member) (rfc9421Signature, error) {
	il, ok := input.(httpsfv.InnerList)
	if !ok {
		return rfc9421Signature{}, fmt.Errorf("signature %q: input is not an inner list", label)
	}
	si, ok := sig.(httpsfv.Item)
	if !ok {
		return rfc9421Signature{}, fmt.Errorf("signature %q: signature is not an item", label)
	}
	b, ok := si.Value.([]byte)
	if !ok || len(b) == 0 {
		return rfc9421Signature{}, fmt.Errorf("signature %q: signature is not a non-empty byte sequence", label)
	}
	s := rfc9421Signature{label: label, components: il.Items, params: il.Params, signature: b}
	seen := make(map[string]bool, len(il.Items))
	for _, c := range il.Items {
		name, ok := c.Value.(string)
		if !ok {
			return rfc9421Signature{}, fmt.Errorf("signature %q: component %v is not a string", label, c.Value)
		}
		id, err := httpsfv.Marshal(c)
		if err != nil {
			return rfc9421Signature{}, fmt.Errorf("signature %q: component %q: %w", label, name, err)
		}
		if seen[id] {
			// RFC 9421 section 2.5: a component may be covered only once.
			return rfc9421Signature{}, fmt.Errorf("signature %q: component %s is repeated", label, id)
		}
		seen[id] = true
		if name != strings.ToLower(name) {
			return rfc9421Signature{}, fmt.Errorf("signature %q: component %q is not lower case", label, name)
		}
	}
	pv, err := httpsfv.Marshal(httpsfv.List{il})
	if err != nil {
		return rfc9421Signature{}, fmt.Errorf("signature %q: %w", label, err)
	}
	s.paramsValue = pv
	for _, name := range il.Params.Names() {
		v, _ := il.Params.Get(name)
		switch name {
		case "keyid":
			if s.keyID, ok = v.(string); !ok || s.keyID == "" {
				return rfc9421Signature{}, fmt.Errorf("signature %q: keyid is not a non-empty string", label)
			}
		case "alg":
			if s.alg, ok = v.(string); !ok {
				return rfc9421Signature{}, fmt.Errorf("signature %q: alg is not a string", label)
			}
		case "created":
			if s.created, ok = v.(int64); !ok {
				return rfc9421Signature{}, fmt.Errorf("signature %q: created is not an integer", label)
			}
			s.hasCreate = true
		case "expires":
			if s.expires, ok = v.(int64); !ok {
				return rfc9421Signature{}, fmt.Errorf("signature %q: expires is not an integer", label)
			}
		}
		// nonce and tag are signed (they are part of @signature-params) but
		// carry no rule of ours.
	}
	if s.keyID == "" {
		return rfc9421Signature{}, fmt.Errorf("signature %q: no keyid", label)
	}
	return s, nil
}

// rfc9421Message is the message a signature base is built from: a request
// as received, or (for the RFC's response vector) a response.
type rfc9421Message struct {
	method    string
	scheme    string
	authority string // lower-case host[:port], default port removed
	target    string // the request target as sent: escaped path and query
	header    http.Header
	status    int // responses only
}

// requestMessage describes r as received, with the given scheme.
func requestMessage(r *http.Request, scheme string) rfc9421Message {
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	host = strings.ToLower(host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	return rfc9421Message{method: method, scheme: scheme, authority: host, target: requestTarget(r), header: r.Header}
}

// componentValue returns the value of one covered component (RFC 9421
// sections 2.1 and 2.2).
func (m rfc9421Message) componentValue(c httpsfv.Item) (string, error) {
	name := c.Value.(string) // checked by the parser
	params := c.Params.Names()
	if strings.HasPrefix(name, "@") {
		if name == "@query-param" {
			if len(params) != 1 || params[0] != "name" {
				return "", errors.New(`@query-param needs exactly the "name" parameter`)
			}
			v, _ := c.Params.Get("name")
			want, ok := v.(string)
			if !ok {
				return "", errors.New("@query-param name is not a string")
			}
			return m.queryParam(want)
		}
		if len(params) > 0 {
			return "", fmt.Errorf("component %q: parameters are not supported", name)
		}
		path, query, hasQuery := strings.Cut(m.target, "?")
		switch name {
		case "@method":
			return m.method, nil
		case "@target-uri":
			return m.scheme + "://" + m.authority + m.target, nil
		case "@authority":
			return m.authority, nil
		case "@scheme":
			return m.scheme, nil
		case "@request-target":
			return m.target, nil
		case "@path":
			if path == "" {
				path = "/"
			}
			return path, nil
		case "@query":
			if !hasQuery {
				return "?", nil
			}
			return "?" + query, nil
		case "@status":
			if m.status == 0 {
				return "", errors.New("@status is only defined for responses")
			}
			return fmt.Sprint(m.status), nil
		}
		return "", fmt.Errorf("unknown derived component %q", name)
	}
	if len(params) > 0 {
		// sf, key, bs, req and tr change how a field is serialized; no
		// fediverse server uses them.
		return "", fmt.Errorf("component %q: parameters are not supported", name)
	}
	values := m.header.Values(name)
	if len(values) == 0 && name == "host" && m.authority != "" {
		values = []string{m.authority} // Go's server moves Host out of the header map
	}
	if len(values) == 0 {
		return "", fmt.Errorf("covered field %q is missing", name)
	}
	trimmed := make([]string, len(values))
	for i, v := range values {
		// RFC 9421 section 2.1: strip leading and trailing whitespace of each
		// line, replace obsolete line folding, join lines with ", ".
		trimmed[i] = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", " "), "\n", " "))
	}
	return strings.Join(trimmed, ", "), nil
}

// queryParam implements @query-param (RFC 9421 section 2.2.8): the value of
// the one parameter named name, decoded and then percent-encoded again.
func (m rfc9421Message) queryParam(name string) (string, error) {
	_, query, _ := strings.Cut(m.target, "?")
	found, value := false, ""
	for pair := range strings.SplitSeq(query, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return "", errors.New("query is not valid percent-encoding")
		}
		if k != name {
			continue
		}
		if found {
			return "", fmt.Errorf("query parameter %q is repeated", name)
		}
		found, value = true, v
	}
	if !found {
		return "", fmt.Errorf("query parameter %q is missing", name)
	}
	return strings.ReplaceAll(url.QueryEscape(value), "+", "%20"), nil
}

// signatureBase builds the signature base of s over m (RFC 9421 section 2.5).
func (s *rfc9421Signature) signatureBase(m rfc9421Message) (string, error) {
	var b strings.Builder
	for _, c := range s.components {
		id, err := httpsfv.Marshal(c)
		if err != nil {
			return "", err
		}
		v, err := m.componentValue(c)
		if err != nil {
			return "", err
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("component %s has a line break", id)
		}
		b.WriteString(id)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(s.paramsValue)
	return b.String(), nil
}

// covers reports whether s covers the component name (without parameters).
func (s *rfc9421Signature) covers(name string) bool {
	for _, c := range s.components {
		if c.Value == name && len(c.Params.Names()) == 0 {
			return true
		}
	}
	return false
}

// checkRFC9421Coverage is the RFC 9421 counterpart of checkSignatureCoverage:
// the method and the full target (with its host) must be signed, and the
// body through Content-Digest when there is one.
func checkRFC9421Coverage(s *rfc9421Signature, needDigest bool) error {
	switch {
	case !s.covers("@method"):
		return &SignatureError{Reason: reasonCoverMethod}
	case !s.covers("@target-uri") && !(s.covers("@authority") && (s.covers("@path") || s.covers("@request-target"))):
		return &SignatureError{Reason: reasonCoverURI}
	case needDigest && !s.covers("content-digest"):
		return &SignatureError{Reason: reasonCoverCDigest}
	}
	return nil
}

// checkRFC9421Time enforces created (required) within maxClockSkew of now,
// and expires when sent.
func checkRFC9421Time(s *rfc9421Signature, now time.Time) error {
	if !s.hasCreate {
		return &SignatureError{Reason: reasonNoCreated}
	}
	if skew := now.Sub(time.Unix(s.created, 0)); skew > maxClockSkew || skew < -maxClockSkew {
		return &SignatureError{Reason: reasonDateWindow, Err: fmt.Errorf("created is %s from now", skew.Round(time.Second))}
	}
	if s.expires != 0 && now.Unix() > s.expires {
		return &SignatureError{Reason: reasonExpired}
	}
	return nil
}

// verifyRFC9421Request verifies the RFC 9421 signature(s) of r. The first
// signature that verifies wins; if none does, the first one's error is
// returned.
func verifyRFC9421Request(ctx context.Context, r *http.Request, body []byte, now time.Time, lookup KeyLookup) (Verification, error) {
	sigs, err := parseRFC9421(r.Header)
	if err != nil {
		return Verification{}, &SignatureError{Reason: reasonMalformed, Err: err}
	}
	if len(sigs) > maxRFC9421Signatures {
		sigs = sigs[:maxRFC9421Signatures]
	}
	var firstErr error
	for i := range sigs {
		v, err := verifyRFC9421One(ctx, r, body, now, lookup, &sigs[i])
		if err == nil {
			return v, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return Verification{}, firstErr
}

func verifyRFC9421One(ctx context.Context, r *http.Request, body []byte, now time.Time, lookup KeyLookup, s *rfc9421Signature) (Verification, error) {
	switch s.alg {
	case "", AlgRSAv15SHA256, AlgRSAPSSSHA512, AlgEd25519, AlgECDSAP256SHA256:
	default:
		// hmac-sha256 needs a shared secret, which federation never has.
		return Verification{}, &SignatureError{Reason: reasonAlgorithm, Err: fmt.Errorf("alg %q", s.alg)}
	}
	needDigest := len(body) > 0 || r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch
	if err := checkRFC9421Coverage(s, needDigest); err != nil {
		return Verification{}, err
	}
	if err := checkRFC9421Time(s, now); err != nil {
		return Verification{}, err
	}
	if s.covers("content-digest") || needDigest {
		if err := checkContentDigest(r.Header, body); err != nil {
			return Verification{}, err
		}
	}
	// @target-uri carries the scheme, which a server behind a TLS-terminating
	// proxy cannot know; Mastodon signs https even over plain http. Both
	// bases are built before any key fetch, so a missing field fails first.
	schemes := []string{"https", "http"}
	if r.TLS != nil {
		schemes = schemes[:1]
	}
	var candidates []string
	for _, scheme := range schemes {
		base, err := s.signatureBase(requestMessage(r, scheme))
		if err != nil {
			return Verification{}, &SignatureError{Reason: reasonMissingHeader, Err: err}
		}
		if !slices.Contains(candidates, base) {
			candidates = append(candidates, base)
		}
	}

	key, owner, err := lookup(ctx, s.keyID, false)
	if err != nil {
		return Verification{}, &SignatureError{Reason: reasonKeyFetch, Err: err}
	}
	if verr := verifyRFC9421Any(key, s.alg, candidates, s.signature); verr != nil {
		key, owner, err = lookup(ctx, s.keyID, true)
		if err != nil {
			return Verification{}, &SignatureError{Reason: reasonKeyFetch, Err: err}
		}
		if err := verifyRFC9421Any(key, s.alg, candidates, s.signature); err != nil {
			var se *SignatureError
			if errors.As(err, &se) {
				return Verification{}, err
			}
			return Verification{}, &SignatureError{Reason: reasonBadSignature, Err: err}
		}
	}
	if owner == "" {
		return Verification{}, &SignatureError{Reason: reasonKeyFetch, Err: fmt.Errorf("key %q has no owner", s.keyID)}
	}
	_, isEd25519 := key.(ed25519.PublicKey)
	return Verification{KeyID: s.keyID, Owner: owner, Standard: StandardRFC9421, Ed25519: isEd25519}, nil
}

func verifyRFC9421Any(key any, alg string, candidates []string, sig []byte) error {
	var err error
	for _, c := range candidates {
		if err = verifyRFC9421Signature(key, alg, []byte(c), sig); err == nil {
			return nil
		}
	}
	return err
}

// verifyRFC9421Signature checks sig over base with key under alg (RFC 9421
// section 3.3). An empty alg is inferred from the key, as Mastodon does: an
// RSA key means rsa-v1_5-sha256 or, failing that, rsa-pss-sha512. A key of the wrong type for alg fails with
// reasonAlgorithm.
func verifyRFC9421Signature(key any, alg string, base, sig []byte) error {
	wrongKey := func() error {
		return &SignatureError{Reason: reasonAlgorithm, Err: fmt.Errorf("alg %q with a %T key", alg, key)}
	}
	if alg == "" {
		switch key.(type) {
		case *rsa.PublicKey:
			// An RSA key may sign either way; both are sound with it.
			if verifyRFC9421Signature(key, AlgRSAv15SHA256, base, sig) == nil {
				return nil
			}
			alg = AlgRSAPSSSHA512
		case ed25519.PublicKey:
			alg = AlgEd25519
		case *ecdsa.PublicKey:
			alg = AlgECDSAP256SHA256
		case nil:
			return errors.New("no key")
		default:
			return wrongKey()
		}
	}
	switch alg {
	case AlgRSAv15SHA256:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return wrongKey()
		}
		sum := sha256.Sum256(base)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig)
	case AlgRSAPSSSHA512:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return wrongKey()
		}
		sum := sha512.Sum512(base)
		// RFC 9421 section 3.3.1: salt length 64 bytes.
		return rsa.VerifyPSS(k, crypto.SHA512, sum[:], sig, &rsa.PSSOptions{SaltLength: 64})
	case AlgEd25519:
		k, ok := key.(ed25519.PublicKey)
		if !ok {
			return wrongKey()
		}
		if !ed25519.Verify(k, base, sig) {
			return errors.New("ed25519: verification error")
		}
		return nil
	case AlgECDSAP256SHA256:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k.Curve.Params().BitSize != 256 {
			return wrongKey()
		}
		// r and s as two 32-byte big-endian integers, not ASN.1.
		if len(sig) != 64 {
			return errors.New("ecdsa: signature is not 64 bytes")
		}
		sum := sha256.Sum256(base)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, sum[:], r, s) {
			return errors.New("ecdsa: verification error")
		}
		return nil
	case AlgHMACSHA256:
		k, ok := key.([]byte)
		if !ok {
			return wrongKey()
		}
		mac := hmac.New(sha256.New, k)
		mac.Write(base)
		if !hmac.Equal(mac.Sum(nil), sig) {
			return errors.New("hmac: verification error")
		}
		return nil
	}
	return &SignatureError{Reason: reasonAlgorithm, Err: fmt.Errorf("alg %q", alg)}
}

// checkContentDigest checks the Content-Digest field (RFC 9530) against body:
// at least one sha-256 or sha-512 entry, and every such entry must match.
// Unknown algorithms are ignored.
func checkContentDigest(h http.Header, body []byte) error {
	values := h.Values("Content-Digest")
	if len(values) == 0 {
		return &SignatureError{Reason: reasonNoDigest}
	}
	d, err := httpsfv.UnmarshalDictionary(values)
	if err != nil {
		return &SignatureError{Reason: reasonMalformed, Err: fmt.Errorf("Content-Digest: %w", err)}
	}
	found := false
	for _, alg := range d.Names() {
		var want []byte
		switch alg {
		case "sha-256":
			s := sha256.Sum256(body)
			want = s[:]
		case "sha-512":
			s := sha512.Sum512(body)
			want = s[:]
		default:
			continue
		}
		m, _ := d.Get(alg)
		item, ok := m.(httpsfv.Item)
		got, ok2 := item.Value.([]byte)
		if !ok || !ok2 {
			return &SignatureError{Reason: reasonMalformed, Err: fmt.Errorf("Content-Digest %s is not a byte sequence", alg)}
		}
		found = true
		if !hmac.Equal(got, want) {
			return &SignatureError{Reason: reasonDigestMismatch, Err: fmt.Errorf("Content-Digest %s does not match the body", alg)}
		}
	}
	if !found {
		return &SignatureError{Reason: reasonNoSHA256, Err: errors.New("Content-Digest has no sha-256 or sha-512 entry")}
	}
	return nil
}

// AcceptSignatureEd25519 is the Accept-Signature field (RFC 9421 section
// 5.1) Starling's inbox answers a signed delivery with: it asks for RFC 9421
// signatures made with an Ed25519 key over what SignRequestRFC9421 covers.
// A sender's Knocker reads it with AcceptedStandard, so two servers learn
// each other's newest standard from deliveries they make anyway, without a
// knock of their own.
const AcceptSignatureEd25519 = `sig1=("@method" "@target-uri" "@authority" "content-digest");alg="ed25519"`

// AcceptedStandard reads a response's Accept-Signature field: RFC 9421
// with Ed25519 when a member asks for alg ed25519, RFC 9421 when a member
// asks for another algorithm or none (a key of the receiver's choosing);
// ok is false when there is no such field or it does not parse.
func AcceptedStandard(h http.Header) (std Standard, ok bool) {
	values := h.Values("Accept-Signature")
	if len(values) == 0 {
		return "", false
	}
	d, err := httpsfv.UnmarshalDictionary(values)
	if err != nil {
		return "", false
	}
	for _, name := range d.Names() {
		m, _ := d.Get(name)
		il, isList := m.(httpsfv.InnerList)
		if !isList {
			continue
		}
		alg, _ := il.Params.Get("alg")
		switch alg {
		case AlgEd25519:
			return StandardRFC9421Ed25519, true
		case nil, AlgRSAv15SHA256, AlgRSAPSSSHA512:
			std, ok = StandardRFC9421, true
		}
	}
	return std, ok
}
