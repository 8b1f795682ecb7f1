package signature

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
)

func sigTestReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// rfc9421Vectors is testdata/rfc9421/vectors.json.
type rfc9421Vectors struct {
	Cases []struct {
		Name              string `json:"name"`
		Alg               string `json:"alg"`
		KeyID             string `json:"keyid"`
		MessageFile       string `json:"message_file"`
		SignatureBase     string `json:"signature_base"`
		SignatureInput    string `json:"signature_input"`
		Signature         string `json:"signature"`
		TransformVariants []struct {
			File        string `json:"file"`
			ExpectValid bool   `json:"expect_valid"`
			Change      string `json:"change"`
		} `json:"transform_variants"`
	} `json:"cases"`
}

// rfc9421TestKeys returns the Appendix B keys by key id: public keys, and
// the shared secret as bytes.
func rfc9421TestKeys(tb testing.TB) map[string]any {
	tb.Helper()
	keys := map[string]any{}
	for _, id := range []string{"test-key-rsa", "test-key-rsa-pss", "test-key-ecc-p256", "test-key-ed25519"} {
		k, err := ParsePublicKey(string(sigTestReadFile(tb, "testdata/rfc9421/keys/"+id+".pub.pem")))
		if err != nil {
			tb.Fatalf("%s: %v", id, err)
		}
		keys[id] = k
	}
	secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigTestReadFile(tb, "testdata/rfc9421/keys/test-shared-secret.b64"))))
	if err != nil {
		tb.Fatal(err)
	}
	keys["test-shared-secret"] = secret
	return keys
}

// rfc9421TestMessage reads an HTTP message file (LF line endings) as a
// server receives it. Requests come back as *http.Request; responses as the
// rfc9421Message of the response.
func rfc9421TestMessage(tb testing.TB, path string) (*http.Request, []byte, rfc9421Message) {
	tb.Helper()
	raw := sigTestReadFile(tb, "testdata/rfc9421/"+path)
	head, body, _ := bytes.Cut(raw, []byte("\n\n"))
	// multi-proxy-request.http has an extra blank line before its body,
	// an artifact of the extraction: the RFC's Content-Digest is of the
	// body without it.
	body = bytes.TrimLeft(body, "\n")
	wire := append(bytes.ReplaceAll(head, []byte("\n"), []byte("\r\n")), "\r\n\r\n"...)
	wire = append(wire, body...)
	if bytes.HasPrefix(raw, []byte("HTTP/")) {
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(wire)), nil)
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return nil, b, rfc9421Message{header: resp.Header, status: resp.StatusCode}
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return r, b, requestMessage(r, "https")
}

// keyedLookup is a KeyLookup over a fixed set of keys, owned by owner.
func keyedLookup(keys map[string]any, owner string) KeyLookup {
	return func(ctx context.Context, keyID string, refresh bool) (crypto.PublicKey, string, error) {
		k, ok := keys[keyID]
		if !ok {
			return nil, "", fmt.Errorf("no key %q", keyID)
		}
		return k, owner, nil
	}
}

// Every RFC 9421 Appendix B (and section 4.3) vector: the signature base we
// build is byte for byte the RFC's, the RFC's signature verifies over it
// (and each B.4 transformation verifies or fails as the RFC says), and then
// VerifyRequest gives our policy's verdict on the whole request.
func TestRFC9421_Vectors(t *testing.T) {
	var vectors rfc9421Vectors
	sigTestJSON(t, "testdata/rfc9421/vectors.json", &vectors)
	keys := rfc9421TestKeys(t)

	// Our policy per case. The RFC's examples are valid signatures, but a
	// fediverse inbox also needs @method, the target and the body covered.
	// "-" marks a response, which Starling never verifies.
	policy := map[string]string{
		"b21-minimal-rsa-pss":            reasonCoverMethod,
		"b22-selective-rsa-pss":          reasonCoverMethod,
		"b23-full-rsa-pss":               "",
		"b24-response-ecdsa-p256":        "-",
		"b25-hmac-sha256":                reasonCoverMethod,
		"b26-ed25519":                    reasonCoverCDigest,
		"s4.3-proxy-sig-rsa-v1_5-sha256": "",
		"b3-ttrp-ecdsa-p256":             reasonCoverCDigest,
		"b4-transform-ed25519":           "",
	}
	if len(vectors.Cases) != len(policy) {
		t.Errorf("%d vectors, %d verdicts", len(vectors.Cases), len(policy))
	}
	for _, c := range vectors.Cases {
		t.Run(c.Name, func(t *testing.T) {
			wantReason, ok := policy[c.Name]
			if !ok {
				t.Fatalf("no expected verdict for vector %q", c.Name)
			}
			h := http.Header{}
			h.Set("Signature-Input", c.SignatureInput)
			h.Set("Signature", c.Signature)
			sigs, err := parseRFC9421(h)
			if err != nil {
				t.Fatal(err)
			}
			if len(sigs) != 1 || sigs[0].keyID != c.KeyID {
				t.Fatalf("parsed %d signatures, want one by %q", len(sigs), c.KeyID)
			}
			s := &sigs[0]
			key := keys[c.KeyID]

			r, _, msg := rfc9421TestMessage(t, c.MessageFile)
			base, err := s.signatureBase(msg)
			if err != nil {
				t.Fatal(err)
			}
			if base != c.SignatureBase {
				t.Fatalf("signature base:\n%s\nwant:\n%s", base, c.SignatureBase)
			}
			if err := verifyRFC9421Signature(key, c.Alg, []byte(base), s.signature); err != nil {
				t.Fatalf("RFC signature does not verify: %v", err)
			}
			tampered := []byte(base + " ")
			if err := verifyRFC9421Signature(key, c.Alg, tampered, s.signature); err == nil {
				t.Fatal("signature verifies over a changed base")
			}

			variants := c.TransformVariants
			if len(variants) == 0 {
				variants = append(variants, struct {
					File        string `json:"file"`
					ExpectValid bool   `json:"expect_valid"`
					Change      string `json:"change"`
				}{c.MessageFile, true, "original"})
			}
			for _, v := range variants {
				vr, body, vmsg := rfc9421TestMessage(t, v.File)
				vbase, err := s.signatureBase(vmsg)
				valid := err == nil && verifyRFC9421Signature(key, c.Alg, []byte(vbase), s.signature) == nil
				if valid != v.ExpectValid {
					t.Errorf("%s (%s): valid = %v, RFC says %v", v.File, v.Change, valid, v.ExpectValid)
				}
				if wantReason == "-" {
					continue
				}
				want := wantReason
				// The RFC's messages carry the signature in their own fields
				// only for some cases; use the vector's.
				vr.Header.Set("Signature-Input", c.SignatureInput)
				vr.Header.Set("Signature", c.Signature)
				if v.File == "cases/multi-proxy-request.http" {
					// Both signatures, as the proxy forwarded them: the
					// original one no longer matches the rewritten authority.
					vr.Header = vr.Header.Clone()
					raw, _, _ := rfc9421TestMessage(t, v.File)
					vr.Header["Signature-Input"] = raw.Header["Signature-Input"]
					vr.Header["Signature"] = raw.Header["Signature"]
				}
				now := time.Unix(s.created, 0).Add(10 * time.Second)
				got, err := VerifyRequest(t.Context(), vr, body, now, keyedLookup(keys, "https://example.com/owner"))
				if !v.ExpectValid {
					// A transformation that breaks the signature is rejected,
					// by the policy or by the crypto.
					if err == nil {
						t.Errorf("%s (%s): accepted, want rejection", v.File, v.Change)
					}
					continue
				}
				sigTestAssert(t, got, err, want)
				if want == "" && (got.KeyID != c.KeyID || got.Standard != StandardRFC9421) {
					t.Errorf("Verification = %+v, want key %q under RFC 9421", got, c.KeyID)
				}
			}
			_ = r
		})
	}
}

// RFC 9421 policy edges on a request we sign ourselves, with the Mastodon
// spec's key.
func TestVerifyRequest_RFC9421Policy(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	const keyID = "https://remote.example/users/bob#main-key"
	keys := map[string]any{keyID: &key.PublicKey}
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"Create"}`)

	sign := func(t *testing.T, body []byte, created time.Time, mutate func(*http.Request)) *http.Request {
		t.Helper()
		r, err := http.NewRequest(http.MethodPost, "https://starling.example/users/alice/inbox", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := SignRequestRFC9421(r, keyID, key, body, created); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(r)
		}
		// As the server sees it.
		r.RequestURI = r.URL.RequestURI()
		return r
	}
	tests := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		body       []byte
		wantReason string
	}{
		{name: "OK", req: func(t *testing.T) *http.Request { return sign(t, body, now, nil) }, body: body},
		{name: "OKCreatedSlightlyAhead", req: func(t *testing.T) *http.Request { return sign(t, body, now.Add(5*time.Minute), nil) }, body: body},
		{name: "ErrCreatedOld", req: func(t *testing.T) *http.Request { return sign(t, body, now.Add(-2*time.Hour), nil) }, body: body, wantReason: reasonDateWindow},
		{name: "ErrCreatedFuture", req: func(t *testing.T) *http.Request { return sign(t, body, now.Add(2*time.Hour), nil) }, body: body, wantReason: reasonDateWindow},
		{name: "ErrTamperedBody", req: func(t *testing.T) *http.Request { return sign(t, body, now, nil) }, body: []byte(`{"type":"Delete"}`), wantReason: reasonDigestMismatch},
		{name: "ErrNoContentDigest", req: func(t *testing.T) *http.Request {
			return sign(t, body, now, func(r *http.Request) { r.Header.Del("Content-Digest") })
		}, body: body, wantReason: reasonNoDigest},
		{name: "ErrOtherHost", req: func(t *testing.T) *http.Request {
			return sign(t, body, now, func(r *http.Request) { r.Host = "other.example" })
		}, body: body, wantReason: reasonBadSignature},
		{name: "ErrMalformedInput", req: func(t *testing.T) *http.Request {
			return sign(t, body, now, func(r *http.Request) { r.Header.Set("Signature-Input", `sig1=("@method"`) })
		}, body: body, wantReason: reasonMalformed},
		{name: "ErrNoMatchingLabel", req: func(t *testing.T) *http.Request {
			return sign(t, body, now, func(r *http.Request) { r.Header.Set("Signature", `other=:AAAA:`) })
		}, body: body, wantReason: reasonMalformed},
		{name: "ErrHMAC", req: func(t *testing.T) *http.Request {
			return sign(t, body, now, func(r *http.Request) {
				r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `alg="rsa-v1_5-sha256"`, `alg="hmac-sha256"`, 1))
			})
		}, body: body, wantReason: reasonAlgorithm},
		{name: "ErrNoCreated", req: func(t *testing.T) *http.Request {
			return sign(t, body, now, func(r *http.Request) {
				in := r.Header.Get("Signature-Input")
				i := strings.Index(in, ";created=")
				j := strings.Index(in[i+1:], ";")
				r.Header.Set("Signature-Input", in[:i]+in[i+1+j:])
			})
		}, body: body, wantReason: reasonNoCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req(t)
			v, err := VerifyRequest(t.Context(), r, tt.body, now, keyedLookup(keys, "https://remote.example/users/bob"))
			sigTestAssert(t, v, err, tt.wantReason)
			if tt.wantReason == "" && v.Standard != StandardRFC9421 {
				t.Errorf("Standard = %q", v.Standard)
			}
		})
	}
}

// go-fed/httpsig's Ed25519 vectors: hs2019 over the draft-cavage request.
func TestVerifyRequest_GoFedEd25519(t *testing.T) {
	var vectors struct {
		KeyID string `json:"keyId"`
		Cases []struct {
			Headers       string `json:"headers"`
			SigningString string `json:"signing_string"`
			Authorization string `json:"authorization"`
		} `json:"cases"`
	}
	sigTestJSON(t, "testdata/go-fed-httpsig/ed25519-vectors.json", &vectors)
	pub, err := ParsePublicKey(string(sigTestReadFile(t, "testdata/go-fed-httpsig/ed25519.pub.pem")))
	if err != nil {
		t.Fatal(err)
	}
	// Valid signatures all; our policy wants the target, host, date and
	// digest of a POST signed.
	want := map[string]string{
		"date":                       reasonCoverTarget,
		"(request-target) host date": reasonCoverDigest,
		"(request-target) host date content-type digest content-length": "",
	}
	for _, c := range vectors.Cases {
		t.Run(c.Headers, func(t *testing.T) {
			wantReason, ok := want[c.Headers]
			if !ok {
				t.Fatalf("no expected verdict for %q", c.Headers)
			}
			r, body := sigTestCavageRequest(t)
			r.Header.Set("Authorization", c.Authorization)
			params, err := parseSignatureHeader(strings.TrimPrefix(c.Authorization, "Signature "))
			if err != nil {
				t.Fatal(err)
			}
			got, err := signingString(r, params, requestTarget(r))
			if err != nil {
				t.Fatal(err)
			}
			if got != c.SigningString {
				t.Errorf("signing string:\n%s\nwant:\n%s", got, c.SigningString)
			}
			if err := verifySignature(pub, []byte(got), params.signature); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
			now, _ := http.ParseTime(r.Header.Get("Date"))
			v, err := VerifyRequest(t.Context(), r, body, now, keyedLookup(map[string]any{vectors.KeyID: pub}, "https://example.com/actor"))
			sigTestAssert(t, v, err, wantReason)
		})
	}
}

// An algorithm parameter must agree with the key: rsa-sha256 over an
// Ed25519 key is refused even though the signature itself is good.
func TestVerifyRequest_CavageAlgorithmKeyMismatch(t *testing.T) {
	var vectors struct {
		KeyID string `json:"keyId"`
		Cases []struct {
			Headers       string `json:"headers"`
			Authorization string `json:"authorization"`
		} `json:"cases"`
	}
	sigTestJSON(t, "testdata/go-fed-httpsig/ed25519-vectors.json", &vectors)
	pub, err := ParsePublicKey(string(sigTestReadFile(t, "testdata/go-fed-httpsig/ed25519.pub.pem")))
	if err != nil {
		t.Fatal(err)
	}
	c := vectors.Cases[len(vectors.Cases)-1]
	r, body := sigTestCavageRequest(t)
	r.Header.Set("Authorization", strings.Replace(c.Authorization, `algorithm="hs2019"`, `algorithm="rsa-sha256"`, 1))
	now, _ := http.ParseTime(r.Header.Get("Date"))
	v, err := VerifyRequest(t.Context(), r, body, now, keyedLookup(map[string]any{vectors.KeyID: pub}, "https://example.com/actor"))
	sigTestAssert(t, v, err, reasonAlgorithm)
}

func TestCheckContentDigest(t *testing.T) {
	body := []byte("Hello world")
	tests := []struct {
		name       string
		values     []string
		wantReason string
	}{
		{"SHA256", []string{"sha-256=:ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=:"}, ""},
		{"SHA256AndUnknown", []string{"md5=:AAAA:, sha-256=:ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=:"}, ""},
		{"TwoLines", []string{"md5=:AAAA:", "sha-256=:ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=:"}, ""},
		{"ErrMissing", nil, reasonNoDigest},
		{"ErrOnlyUnknown", []string{"md5=:AAAA:"}, reasonNoSHA256},
		{"ErrMismatch", []string{"sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"}, reasonDigestMismatch},
		{"ErrOneOfTwoMismatch", []string{"sha-256=:ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=:, sha-512=:AAAA:"}, reasonDigestMismatch},
		{"ErrNotSF", []string{"SHA-256=ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="}, reasonMalformed},
		{"ErrToken", []string{"sha-256=abc"}, reasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Content-Digest", v)
			}
			err := checkContentDigest(h, body)
			sigTestAssert(t, Verification{}, err, tt.wantReason)
		})
	}
}

// FuzzParseRFC9421 feeds Signature-Input and Signature values to the
// structured-field parsing and the signature base; neither may panic, and a
// parsed signature always has a key id and a signature.
func FuzzParseRFC9421(f *testing.F) {
	var vectors rfc9421Vectors
	sigTestJSON(f, "testdata/rfc9421/vectors.json", &vectors)
	for _, c := range vectors.Cases {
		f.Add(c.SignatureInput, c.Signature, "/foo?param=Value&Pet=dog")
	}
	var mastodon mastodonVectors
	sigTestJSON(f, "testdata/mastodon-signatures/vectors.json", &mastodon)
	for _, c := range mastodon.Cases {
		if in, ok := c.Headers["Signature-Input"]; ok {
			f.Add(in, c.Headers["Signature"], c.Path)
		}
	}
	f.Add(`a=("@query-param";name="x" "@status" "x";sf);created=1`, `a=:AA==:`, "/?x=%ZZ&x=1")
	f.Add(`a=();keyid="k";alg=1`, `a=:AA==:, b=?1`, "")
	f.Fuzz(func(t *testing.T, input, sig, target string) {
		h := http.Header{}
		h.Set("Signature-Input", input)
		h.Set("Signature", sig)
		h.Set("Content-Digest", "sha-256=:AAAA:")
		sigs, err := parseRFC9421(h)
		if err != nil {
			return
		}
		for _, s := range sigs {
			if s.keyID == "" || len(s.signature) == 0 {
				t.Fatalf("incomplete signature %+v", s)
			}
			m := rfc9421Message{method: "POST", scheme: "https", authority: "example.com", target: target, header: h}
			base, err := s.signatureBase(m)
			if err == nil && !strings.HasSuffix(base, `"@signature-params": `+s.paramsValue) {
				t.Fatalf("base %q does not end with the signature params", base)
			}
		}
	})
}

// SignRequestRFC9421 writes its fields and signature base by hand; they
// must be what httpsfv serializes and what the parser rebuilds, for both
// key types, with and without a body, and with a keyid that needs escapes.
func TestSignRFC9421Fields(t *testing.T) {
	rsaKey, err := ParsePrivateKey(string(sigTestReadFile(t, bobKeyPath)))
	if err != nil {
		t.Fatal(err)
	}
	edKey, err := ParsePrivateKey(string(sigTestReadFile(t, "testdata/rfc9421/keys/test-key-ed25519.key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, url, keyID string
		key              crypto.PrivateKey
		alg              string
		body             []byte
	}{
		{"Ed25519", "https://Remote.Example:443/users/bob/inbox?x=1", "https://here.example/users/a#ed25519-key", edKey, AlgEd25519, []byte(`{"type":"Create"}`)},
		{"Ed25519NoBody", "http://remote.example:8080/users/bob", "https://here.example/users/a#ed25519-key", edKey, AlgEd25519, nil},
		{"RSAEscapedKeyID", "https://remote.example/inbox", `https://here.example/a\b"c#main-key`, rsaKey, AlgRSAv15SHA256, []byte{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(c.body))
			r.Header.Set("Digest", "stale")
			if err := SignRequestRFC9421(r, c.keyID, c.key, c.body, now); err != nil {
				t.Fatal(err)
			}
			names := []string{"@method", "@target-uri", "@authority"}
			if c.body != nil {
				sum := sha256.Sum256(c.body)
				want, _ := httpsfv.Marshal(sfDictionary("sha-256", httpsfv.NewItem(sum[:])))
				if got := r.Header.Get("Content-Digest"); got != want {
					t.Errorf("Content-Digest %q, want %q", got, want)
				}
				names = append(names, "content-digest")
			} else if r.Header.Get("Content-Digest") != "" {
				t.Error("Content-Digest without a body")
			}
			if r.Header.Get("Digest") != "" {
				t.Error("the old Digest was kept")
			}
			il := httpsfv.InnerList{Params: httpsfv.NewParams()}
			for _, n := range names {
				il.Items = append(il.Items, httpsfv.NewItem(n))
			}
			il.Params.Add("created", now.Unix())
			il.Params.Add("keyid", c.keyID)
			il.Params.Add("alg", c.alg)
			want, _ := httpsfv.Marshal(sfDictionary("sig1", il))
			if got := r.Header.Get("Signature-Input"); got != want {
				t.Errorf("Signature-Input %q, want %q", got, want)
			}
			// The parser's signature base over the request as sent must be
			// what was signed.
			sigs, err := parseRFC9421(r.Header)
			if err != nil || len(sigs) != 1 {
				t.Fatalf("parse: %v, %d", err, len(sigs))
			}
			base, err := sigs[0].signatureBase(requestMessage(r, r.URL.Scheme))
			if err != nil {
				t.Fatal(err)
			}
			switch k := c.key.(type) {
			case ed25519.PrivateKey:
				if !ed25519.Verify(k.Public().(ed25519.PublicKey), []byte(base), sigs[0].signature) {
					t.Errorf("signature does not verify over\n%s", base)
				}
			case *rsa.PrivateKey:
				sum := sha256.Sum256([]byte(base))
				if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, sum[:], sigs[0].signature); err != nil {
					t.Errorf("signature does not verify over\n%s: %v", base, err)
				}
			}
		})
	}
	r, _ := http.NewRequest(http.MethodPost, "https://remote.example/inbox", nil)
	if err := SignRequestRFC9421(r, "https://here.example/ä", edKey, nil, now); err == nil {
		t.Error("a keyid that is not ASCII was signed")
	}
}

// sfDictionary is a one-member structured-field dictionary.
func sfDictionary(name string, m httpsfv.Member) *httpsfv.Dictionary {
	d := httpsfv.NewDictionary()
	d.Add(name, m)
	return d
}
