package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKeyLookup is a KeyLookup that serves cached on refresh=false and fresh
// (or cached, if fresh is nil) on refresh=true, and records its calls.
type fakeKeyLookup struct {
	cached, fresh crypto.PublicKey
	owner         string
	err           error // returned for every call
	refreshErr    error // returned for refresh=true only

	mu     sync.Mutex
	calls  []bool // the refresh argument of each call
	keyIDs []string
}

func (l *fakeKeyLookup) lookup(ctx context.Context, keyID string, refresh bool) (crypto.PublicKey, string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, refresh)
	l.keyIDs = append(l.keyIDs, keyID)
	switch {
	case l.err != nil:
		return nil, "", l.err
	case refresh && l.refreshErr != nil:
		return nil, "", l.refreshErr
	case refresh && l.fresh != nil:
		return l.fresh, l.owner, nil
	}
	return l.cached, l.owner, nil
}

// sigTestSign returns a Signature header value: params followed by a
// signature by key over signingString. Tests spell the signing string out so
// they do not depend on the code under test to build it.
func sigTestSign(tb testing.TB, key *rsa.PrivateKey, params, signingString string) string {
	tb.Helper()
	sum := sha256.Sum256([]byte(signingString))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	return params + `,signature="` + base64.StdEncoding.EncodeToString(sig) + `"`
}

func sigTestDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// sigTestAssert checks VerifyRequest's outcome: accepted if wantReason is
// empty, otherwise rejected with a *SignatureError carrying wantReason.
func sigTestAssert(tb testing.TB, v Verification, err error, wantReason string) {
	tb.Helper()
	if wantReason == "" {
		if err != nil {
			tb.Fatalf("rejected: %v", err)
		}
		return
	}
	if err == nil {
		tb.Fatalf("accepted (%+v), want rejection %q", v, wantReason)
	}
	var serr *SignatureError
	if !errors.As(err, &serr) {
		tb.Fatalf("err = %T %v, want *SignatureError", err, err)
	}
	if serr.Reason != wantReason {
		tb.Fatalf("reason = %q, want %q (err: %v)", serr.Reason, wantReason, err)
	}
	if v != (Verification{}) {
		tb.Errorf("rejected with a non-zero Verification %+v", v)
	}
}

func TestVerifyRequest(t *testing.T) {
	const (
		keyID = "https://remote.example/users/bob#main-key"
		owner = "https://remote.example/users/bob"
	)
	key := sigTestPrivateKey(t, bobKeyPath)
	pub := &key.PublicKey
	otherPub := sigTestPublicKeyFile(t, cavagePubPath)
	now := time.Date(2024, 3, 5, 7, 49, 44, 0, time.UTC)
	nowHTTP := now.Format(http.TimeFormat)
	body := []byte(`{"type":"Follow"}`)
	digest := "SHA-256=" + sigTestDigest(body)
	errLookup := errors.New("actor fetch failed")

	// signed builds a request signed by SignRequest at time at.
	signed := func(t *testing.T, method, url string, body []byte, at time.Time) *http.Request {
		t.Helper()
		r := httptest.NewRequest(method, url, bytes.NewReader(body))
		if err := SignRequest(r, keyID, key, body, at); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// manual builds a request to example.com/inbox?x=1 carrying the given
	// headers, as Go's server hands it over (Host in r.Host only).
	manual := func(t *testing.T, method string, headers map[string]string) *http.Request {
		t.Helper()
		r := httptest.NewRequest(method, "/inbox?x=1", bytes.NewReader(body))
		r.Host = "example.com"
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		return r
	}
	const postLines = "(request-target): post /inbox?x=1\nhost: example.com\ndate: "

	tests := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		body       []byte         // nil for GET
		lookup     *fakeKeyLookup // nil: serves the right key
		wantReason string         // "" to accept
		wantCalls  []bool         // refresh argument of each lookup call
		wantErr    error          // for errors.Is, if set
	}{
		{
			name:      "OK/GET",
			req:       func(t *testing.T) *http.Request { return signed(t, "GET", "https://example.com/users/alice", nil, now) },
			wantCalls: []bool{false},
		},
		{
			name:      "OK/POST",
			req:       func(t *testing.T) *http.Request { return signed(t, "POST", "https://example.com/inbox", body, now) },
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "OK/POSTWithQuery",
			req: func(t *testing.T) *http.Request {
				return signed(t, "POST", "https://example.com/inbox?x=1&y=%20", body, now)
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "OK/GETWithQuery",
			req: func(t *testing.T) *http.Request {
				return signed(t, "GET", "https://example.com/outbox?page=true", nil, now)
			},
			wantCalls: []bool{false},
		},
		{
			name: "OK/AuthorizationHeader",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", body, now)
				r.Header.Set("Authorization", "Signature "+r.Header.Get("Signature"))
				r.Header.Del("Signature")
				return r
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			// SignRequest (go-fed) writes algorithm="hs2019", so the cases
			// above cover it; Mastodon writes rsa-sha256. The algorithm is
			// not part of the signing string.
			name: "OK/AlgorithmRSASHA256",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", body, now)
				r.Header.Set("Signature", mustReplace(t, r.Header.Get("Signature"), `algorithm="hs2019"`, `algorithm="rsa-sha256"`))
				return r
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "OK/AlgorithmAbsent",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", body, now)
				r.Header.Set("Signature", mustReplace(t, r.Header.Get("Signature"), `algorithm="hs2019",`, ""))
				return r
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "ErrAlgorithmHMAC",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", body, now)
				r.Header.Set("Signature", mustReplace(t, r.Header.Get("Signature"), `algorithm="hs2019"`, `algorithm="hmac-sha256"`))
				return r
			},
			body:       body,
			wantReason: reasonAlgorithm,
		},
		{
			// What Mastodon used to send.
			name: "OK/QueryNotSigned",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": digest,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",algorithm="rsa-sha256",headers="(request-target) host date digest"`,
						"(request-target): post /inbox\nhost: example.com\ndate: "+nowHTTP+"\ndigest: "+digest),
				})
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "ErrQueryChanged",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "GET", "https://example.com/outbox?page=1", nil, now)
				r.URL.RawQuery, r.RequestURI = "page=2", "/outbox?page=2"
				return r
			},
			wantReason: reasonBadSignature,
			wantCalls:  []bool{false, true},
		},
		{
			name: "ErrQueryRemoved",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "GET", "https://example.com/outbox?page=1", nil, now)
				r.URL.RawQuery, r.RequestURI = "", "/outbox"
				return r
			},
			wantReason: reasonBadSignature,
			wantCalls:  []bool{false, true},
		},
		{
			name: "ErrPathChanged",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/users/alice/inbox", body, now)
				r.URL.Path, r.RequestURI = "/users/bob/inbox", "/users/bob/inbox"
				return r
			},
			body:       body,
			wantReason: reasonBadSignature,
			wantCalls:  []bool{false, true},
		},
		{
			name: "ErrMethodChanged",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "GET", "https://example.com/users/alice", nil, now)
				r.Method = http.MethodDelete
				return r
			},
			wantReason: reasonBadSignature,
			wantCalls:  []bool{false, true},
		},
		{
			// As after http.StripPrefix: what was signed is the target on
			// the request line, not the rewritten r.URL.
			name: "OK/URLRewrittenByMiddleware",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/ap/inbox", body, now)
				r.RequestURI = "/ap/inbox"
				r.URL.Path = "/inbox"
				return r
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			// Go's server keeps Host in r.Host only.
			name: "OK/HostFromRequest",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", body, now)
				r.Header.Del("Host")
				return r
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "ErrHostChanged",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", body, now)
				r.Header.Del("Host")
				r.Host = "other.example"
				return r
			},
			body:       body,
			wantReason: reasonBadSignature,
			wantCalls:  []bool{false, true},
		},
		{
			name:       "ErrTamperedBody",
			req:        func(t *testing.T) *http.Request { return signed(t, "POST", "https://example.com/inbox", body, now) },
			body:       []byte(`{"type":"Delete"}`),
			wantReason: reasonDigestMismatch,
		},
		{
			name: "ErrStaleDate",
			req: func(t *testing.T) *http.Request {
				return signed(t, "POST", "https://example.com/inbox", body, now.Add(-2*time.Hour))
			},
			body:       body,
			wantReason: reasonDateWindow,
		},
		{
			name: "ErrFutureDate",
			req: func(t *testing.T) *http.Request {
				return signed(t, "POST", "https://example.com/inbox", body, now.Add(2*time.Hour))
			},
			body:       body,
			wantReason: reasonDateWindow,
		},
		{
			name: "OK/DateWithinWindow",
			req: func(t *testing.T) *http.Request {
				return signed(t, "POST", "https://example.com/inbox", body, now.Add(-59*time.Minute))
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "ErrBadDate",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":   "wrong date",
					"Digest": digest,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",headers="(request-target) host date digest"`,
						postLines+"wrong date\ndigest: "+digest),
				})
			},
			body:       body,
			wantReason: reasonBadDate,
		},
		{
			name: "ErrNoDateHeader",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", body, now)
				r.Header.Del("Date")
				return r
			},
			body:       body,
			wantReason: reasonMissingHeader,
		},
		{
			// Signed as if bodiless, then given a correct Digest.
			name: "ErrDigestNotSigned",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", nil, now)
				r.Header.Set("Digest", digest)
				return r
			},
			body:       body,
			wantReason: reasonCoverDigest,
		},
		{
			name: "ErrNoDigestHeader",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", body, now)
				r.Header.Del("Digest")
				return r
			},
			body:       body,
			wantReason: reasonNoDigest,
		},
		{
			name: "OK/DigestLowercase",
			req: func(t *testing.T) *http.Request {
				d := "sha-256=" + sigTestDigest(body)
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": d,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",algorithm="hs2019",headers="(request-target) host date digest"`,
						postLines+nowHTTP+"\ndigest: "+d),
				})
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "OK/DigestList",
			req: func(t *testing.T) *http.Request {
				d := "SHA-512=z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==, SHA-256=" + sigTestDigest(body)
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": d,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",headers="(request-target) host date digest"`,
						postLines+nowHTTP+"\ndigest: "+d),
				})
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "ErrDigestNoSHA256",
			req: func(t *testing.T) *http.Request {
				d := "SHA-512=z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": d,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",headers="(request-target) host date digest"`,
						postLines+nowHTTP+"\ndigest: "+d),
				})
			},
			body:       body,
			wantReason: reasonNoSHA256,
		},
		{
			name: "ErrDigestListOneWrong",
			req: func(t *testing.T) *http.Request {
				d := "SHA-256=" + sigTestDigest(body) + ",SHA-256=" + sigTestDigest([]byte("other"))
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": d,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",headers="(request-target) host date digest"`,
						postLines+nowHTTP+"\ndigest: "+d),
				})
			},
			body:       body,
			wantReason: reasonDigestMismatch,
		},
		{
			name:       "ErrWrongKey",
			req:        func(t *testing.T) *http.Request { return signed(t, "POST", "https://example.com/inbox", body, now) },
			body:       body,
			lookup:     &fakeKeyLookup{cached: otherPub, owner: owner},
			wantReason: reasonBadSignature,
			wantCalls:  []bool{false, true},
		},
		{
			name:      "OK/KeyRotation",
			req:       func(t *testing.T) *http.Request { return signed(t, "POST", "https://example.com/inbox", body, now) },
			body:      body,
			lookup:    &fakeKeyLookup{cached: otherPub, fresh: pub, owner: owner},
			wantCalls: []bool{false, true},
		},
		{
			name:       "ErrUnsigned",
			req:        func(t *testing.T) *http.Request { return httptest.NewRequest("POST", "/inbox", bytes.NewReader(body)) },
			body:       body,
			wantReason: reasonUnsigned,
		},
		{
			name: "ErrAuthorizationBearer",
			req: func(t *testing.T) *http.Request {
				r := httptest.NewRequest("GET", "/users/alice", nil)
				r.Header.Set("Authorization", "Bearer keyId=x")
				return r
			},
			wantReason: reasonUnsigned,
		},
		{
			name:       "ErrLookupFails",
			req:        func(t *testing.T) *http.Request { return signed(t, "POST", "https://example.com/inbox", body, now) },
			body:       body,
			lookup:     &fakeKeyLookup{err: errLookup},
			wantReason: reasonKeyFetch,
			wantCalls:  []bool{false},
			wantErr:    errLookup,
		},
		{
			name:       "ErrRefreshFails",
			req:        func(t *testing.T) *http.Request { return signed(t, "POST", "https://example.com/inbox", body, now) },
			body:       body,
			lookup:     &fakeKeyLookup{cached: otherPub, owner: owner, refreshErr: errLookup},
			wantReason: reasonKeyFetch,
			wantCalls:  []bool{false, true},
			wantErr:    errLookup,
		},
		{
			name:       "ErrKeyWithoutOwner",
			req:        func(t *testing.T) *http.Request { return signed(t, "POST", "https://example.com/inbox", body, now) },
			body:       body,
			lookup:     &fakeKeyLookup{cached: pub},
			wantReason: reasonKeyFetch,
			wantCalls:  []bool{false},
		},
		{
			name: "ErrHostNotCovered",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": digest,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",headers="(request-target) date digest"`,
						"(request-target): post /inbox?x=1\ndate: "+nowHTTP+"\ndigest: "+digest),
				})
			},
			body:       body,
			wantReason: reasonCoverHost,
		},
		{
			name: "ErrRequestTargetNotCovered",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": digest,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",headers="host date digest"`,
						"host: example.com\ndate: "+nowHTTP+"\ndigest: "+digest),
				})
			},
			body:       body,
			wantReason: reasonCoverTarget,
		},
		{
			name: "ErrDateNotCovered",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": digest,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",headers="(request-target) host digest"`,
						"(request-target): post /inbox?x=1\nhost: example.com\ndigest: "+digest),
				})
			},
			body:       body,
			wantReason: reasonCoverDate,
		},
		{
			// Without headers= the draft signs Date alone.
			name: "ErrHeadersDefault",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":      nowHTTP,
					"Digest":    digest,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",algorithm="rsa-sha256"`, "date: "+nowHTTP),
				})
			},
			body:       body,
			wantReason: reasonCoverTarget,
		},
		{
			name: "ErrSignedHeaderMissing",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": digest,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",headers="(request-target) host date digest content-type"`,
						postLines+nowHTTP+"\ndigest: "+digest+"\ncontent-type: "),
				})
			},
			body:       body,
			wantReason: reasonMissingHeader,
		},
		{
			name: "OK/ExtraHeadersCovered",
			req: func(t *testing.T) *http.Request {
				r := manual(t, "POST", map[string]string{
					"Date":         nowHTTP,
					"Digest":       digest,
					"Content-Type": ` application/activity+json `,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`", headers="(request-target) host date digest content-type accept"`,
						postLines+nowHTTP+"\ndigest: "+digest+"\ncontent-type: application/activity+json\naccept: a, b"),
				})
				r.Header.Add("Accept", "a")
				r.Header.Add("Accept", "b")
				return r
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "OK/CreatedExpires",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": digest,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",created=1709624984,expires=1709625284.5,headers="(request-target) (created) (expires) host date digest"`,
						"(request-target): post /inbox?x=1\n(created): 1709624984\n(expires): 1709625284.5\nhost: example.com\ndate: "+nowHTTP+"\ndigest: "+digest),
				})
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "ErrExpired",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": digest,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",created=1709624900,expires=1709624980,headers="(request-target) (created) (expires) host date digest"`,
						"(request-target): post /inbox?x=1\n(created): 1709624900\n(expires): 1709624980\nhost: example.com\ndate: "+nowHTTP+"\ndigest: "+digest),
				})
			},
			body:       body,
			wantReason: reasonExpired,
		},
		{
			// go-fed/httpsig would split this keyId at the comma.
			name: "OK/KeyIDWithCommaAndEquals",
			req: func(t *testing.T) *http.Request {
				return manual(t, "POST", map[string]string{
					"Date":   nowHTTP,
					"Digest": digest,
					"Signature": sigTestSign(t, key, `keyId="https://remote.example/key?a=1,b=2",headers="(request-target) host date digest"`,
						postLines+nowHTTP+"\ndigest: "+digest),
				})
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			// Signed over the RFC 9530 Content-Digest instead of Digest.
			name: "OKCavageContentDigest",
			req: func(t *testing.T) *http.Request {
				cd := "sha-256=:" + sigTestDigest(body) + ":"
				return manual(t, "POST", map[string]string{
					"Date": nowHTTP, "Content-Digest": cd,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",algorithm="hs2019",headers="(request-target) host date content-digest"`,
						postLines+nowHTTP+"\ncontent-digest: "+cd),
				})
			},
			body:      body,
			wantCalls: []bool{false},
		},
		{
			name: "ErrCavageContentDigestMismatch",
			req: func(t *testing.T) *http.Request {
				cd := "sha-256=:" + sigTestDigest([]byte("other")) + ":"
				return manual(t, "POST", map[string]string{
					"Date": nowHTTP, "Content-Digest": cd,
					"Signature": sigTestSign(t, key, `keyId="`+keyID+`",headers="(request-target) host date content-digest"`,
						postLines+nowHTTP+"\ncontent-digest: "+cd),
				})
			},
			body:       body,
			wantReason: reasonDigestMismatch,
		},
		{
			name: "ErrMalformed",
			req: func(t *testing.T) *http.Request {
				r := httptest.NewRequest("GET", "/users/alice", nil)
				r.Header.Set("Signature", `keyId="k",headers="(request-target) host date",signature="not base64!"`)
				return r
			},
			wantReason: reasonMalformed,
		},
		{
			name: "ErrTwoSignatureHeaders",
			req: func(t *testing.T) *http.Request {
				r := signed(t, "POST", "https://example.com/inbox", body, now)
				r.Header.Add("Signature", r.Header.Get("Signature"))
				return r
			},
			body:       body,
			wantReason: reasonMalformed,
		},
		{
			// Signature-Input routes to RFC 9421, which fetches the key
			// (twice: rotation) only once everything else is in order.
			name: "ErrRFC9421BadSignature",
			req: func(t *testing.T) *http.Request {
				r := httptest.NewRequest("GET", "/users/alice", nil)
				r.Header.Set("Signature-Input", `sig1=("@method" "@target-uri");created=1709624984;keyid="k"`)
				r.Header.Set("Signature", "sig1=:AAAA:")
				return r
			},
			wantReason: reasonBadSignature,
			wantCalls:  []bool{false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := tt.lookup
			if lookup == nil {
				lookup = &fakeKeyLookup{cached: pub, owner: owner}
			}
			r := tt.req(t)
			v, err := VerifyRequest(t.Context(), r, tt.body, now, lookup.lookup)
			sigTestAssert(t, v, err, tt.wantReason)
			if !slices.Equal(lookup.calls, tt.wantCalls) {
				t.Errorf("lookup calls (refresh) = %v, want %v", lookup.calls, tt.wantCalls)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantErr)
			}
			if tt.wantReason == "" {
				if v.Owner != owner {
					t.Errorf("Owner = %q, want %q", v.Owner, owner)
				}
				if len(lookup.keyIDs) == 0 || v.KeyID != lookup.keyIDs[0] {
					t.Errorf("KeyID = %q, looked up %q", v.KeyID, lookup.keyIDs)
				}
			}
		})
	}
}

// Signs with SignRequest and verifies on the server side of a real loopback
// connection, where Host lives in r.Host and the target in r.RequestURI.
func TestVerifyRequest_OverHTTP(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	lookup := &fakeKeyLookup{cached: &key.PublicKey, owner: "https://remote.example/users/bob"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Method == http.MethodGet {
			body = nil
		}
		if _, err := VerifyRequest(r.Context(), r, body, time.Now(), lookup.lookup); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
	}{
		{"GET", http.MethodGet, "/users/alice", nil},
		{"GETEscapedPathAndQuery", http.MethodGet, "/tags/caf%C3%A9?q=a%20b&x=%2F", nil},
		{"POST", http.MethodPost, "/users/alice/inbox", []byte(`{"type":"Create"}`)},
		{"POSTQuery", http.MethodPost, "/inbox?shared=1", []byte(`{"type":"Announce"}`)},
	}
	signers := map[string]func(*http.Request, string, crypto.PrivateKey, []byte, time.Time) error{
		"Cavage":  SignRequest,
		"RFC9421": SignRequestRFC9421,
	}
	for _, tt := range tests {
		for sname, sign := range signers {
			t.Run(sname+"/"+tt.name, func(t *testing.T) {
				r, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				if err := sign(r, "https://remote.example/users/bob#main-key", key, tt.body, time.Now()); err != nil {
					t.Fatal(err)
				}
				resp, err := srv.Client().Do(r)
				if err != nil {
					t.Fatal(err)
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("status %d: %s", resp.StatusCode, msg)
				}
			})
		}
	}
}

func TestVerifyRequest_Cavage12(t *testing.T) {
	var vectors cavageVectors
	sigTestJSON(t, "testdata/cavage-12/vectors.json", &vectors)
	pub := sigTestPublicKeyFile(t, cavagePubPath)
	// Our policy, not the draft's: every Appendix C signature is valid, but
	// C.1 signs Date alone and C.2 leaves the Digest of a POST unsigned.
	want := map[string]string{
		"C.1 Default Test":     reasonCoverTarget,
		"C.2 Basic Test":       reasonCoverDigest,
		"C.3 All Headers Test": "",
	}
	for _, c := range vectors.Cases {
		t.Run(c.Name, func(t *testing.T) {
			wantReason, ok := want[c.Name]
			if !ok {
				t.Fatalf("no expected verdict for vector %q", c.Name)
			}
			r, body := sigTestCavageRequest(t)
			r.Header.Set("Authorization", c.Authorization)
			// The vectors are from 2014: verify at the request's own Date.
			now, err := http.ParseTime(r.Header.Get("Date"))
			if err != nil {
				t.Fatal(err)
			}

			// The signing string and the crypto agree with the draft even
			// where our policy then rejects.
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
				t.Errorf("signature does not verify over the draft's signing string: %v", err)
			}

			lookup := &fakeKeyLookup{cached: pub, owner: "https://example.com/actor"}
			v, err := VerifyRequest(t.Context(), r, body, now, lookup.lookup)
			sigTestAssert(t, v, err, wantReason)
			if wantReason == "" && v.KeyID != vectors.KeyID {
				t.Errorf("KeyID = %q, want %q", v.KeyID, vectors.KeyID)
			}
		})
	}
}

// mastodonVectors is testdata/mastodon-signatures/vectors.json.
type mastodonVectors struct {
	Clock string `json:"clock"`
	Actor struct {
		ID    string `json:"id"`
		KeyID string `json:"keyId"`
	} `json:"actor"`
	Cases []struct {
		Name            string            `json:"name"`
		Scheme          string            `json:"scheme"`
		Key             string            `json:"key"`
		Method          string            `json:"method"`
		Path            string            `json:"path"`
		Headers         map[string]string `json:"headers"`
		Body            *string           `json:"body"`
		MastodonExpects string            `json:"mastodon_expects"`
	} `json:"cases"`
}

func TestVerifyRequest_Mastodon(t *testing.T) {
	var vectors mastodonVectors
	sigTestJSON(t, "testdata/mastodon-signatures/vectors.json", &vectors)
	clock, _, _ := strings.Cut(vectors.Clock, " ")
	now, err := time.Parse(time.RFC3339, clock)
	if err != nil {
		t.Fatalf("clock %q: %v", vectors.Clock, err)
	}
	pub := sigTestPublicKeyFile(t, bobPubPath)
	edPub, err := ParsePublicKey(string(sigTestReadFile(t, bobEd25519PubPath)))
	if err != nil {
		t.Fatal(err)
	}

	// Our verdict for each case, keyed by name. A reason means rejection.
	want := map[string]string{
		"draft: acct: keyId GET": "", // resolving acct: is KeyLookup's business
		"draft: query string omitted from signed request-target (compat quirk)": "",
		// Mastodon says "signature mismatch"; we stop earlier because a
		// POST must sign digest. Same verdict.
		"draft: mismatching method":          reasonCoverDigest,
		"draft: unparsable date":             reasonBadDate,
		"draft: request older than a day":    reasonDateWindow,
		"draft: valid POST with Digest":      "",
		"draft: POST with Digest not signed": reasonCoverDigest,
		"draft: POST tampered body":          reasonDigestMismatch,

		"rfc9421: valid GET":                                        "",
		"rfc9421: valid GET with query":                             "",
		"rfc9421: mismatching query":                                reasonBadSignature,
		"rfc9421: mismatching path":                                 reasonBadSignature,
		"rfc9421: POST tampered body":                               reasonDigestMismatch,
		"rfc9421: POST tampered path (signed for alternative-path)": reasonBadSignature,
		"rfc9421: Ed25519 valid GET":                                "",
	}
	for _, c := range vectors.Cases {
		t.Run(c.Name, func(t *testing.T) {
			r := httptest.NewRequest(c.Method, c.Path, nil)
			var body []byte
			if c.Body != nil {
				body = []byte(*c.Body)
				r = httptest.NewRequest(c.Method, c.Path, bytes.NewReader(body))
			}
			for k, v := range c.Headers {
				if k == "Host" {
					r.Host = v
					continue
				}
				r.Header.Set(k, v)
			}
			lookup := &fakeKeyLookup{cached: pub, owner: vectors.Actor.ID}
			if c.Key == "ed25519" {
				lookup.cached = edPub
			}

			wantReason, ok := want[c.Name]
			if !ok {
				t.Fatalf("no expected verdict for vector %q (Mastodon: %s)", c.Name, c.MastodonExpects)
			}
			if mastodonValid := strings.HasPrefix(c.MastodonExpects, "valid"); mastodonValid != (wantReason == "") {
				t.Fatalf("our expected verdict disagrees with Mastodon's %q", c.MastodonExpects)
			}
			v, err := VerifyRequest(t.Context(), r, body, now, lookup.lookup)
			sigTestAssert(t, v, err, wantReason)
			if wantReason == "" {
				wantStd := StandardCavage
				if c.Scheme == "rfc9421" {
					wantStd = StandardRFC9421
				}
				if v.Standard != wantStd {
					t.Errorf("Standard = %q, want %q", v.Standard, wantStd)
				}
				if v.Owner != vectors.Actor.ID {
					t.Errorf("Owner = %q, want %q", v.Owner, vectors.Actor.ID)
				}
				if want := lookup.keyIDs[0]; v.KeyID != want {
					t.Errorf("KeyID = %q, want %q", v.KeyID, want)
				}
			}
		})
	}
}

// Fedify's vector has no algorithm parameter, a lowercase "sha-256=" Digest
// and headers in alphabetical order.
func TestVerifyRequest_Fedify(t *testing.T) {
	var vector struct {
		Request struct {
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Body    string            `json:"body"`
			Headers map[string]string `json:"headers"`
		} `json:"request"`
		Clock string `json:"clock"`
	}
	sigTestJSON(t, "testdata/fedify/cavage-vector.json", &vector)
	var keyDoc struct {
		ID           string `json:"id"`
		Owner        string `json:"owner"`
		PublicKeyPem string `json:"publicKeyPem"`
	}
	sigTestJSON(t, "testdata/fedify/docloader-fixtures/example.com/key.json", &keyDoc)
	pub := sigTestPublicKey(t, []byte(keyDoc.PublicKeyPem))
	now, err := time.Parse(time.RFC3339, vector.Clock)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		body       string
		now        time.Time
		wantReason string
	}{
		{"OK", vector.Request.Body, now, ""},
		{"ErrTamperedBody", vector.Request.Body + "!", now, reasonDigestMismatch},
		{"ErrLate", vector.Request.Body, now.Add(61 * time.Minute), reasonDateWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			r := httptest.NewRequest(vector.Request.Method, vector.Request.URL, bytes.NewReader(body))
			for k, v := range vector.Request.Headers {
				r.Header.Set(k, v)
			}
			lookup := &fakeKeyLookup{cached: pub, owner: keyDoc.Owner}
			v, err := VerifyRequest(t.Context(), r, body, tt.now, lookup.lookup)
			sigTestAssert(t, v, err, tt.wantReason)
			if tt.wantReason == "" && (v.KeyID != keyDoc.ID || v.Owner != keyDoc.Owner) {
				t.Errorf("Verification = %+v, want key %q owned by %q", v, keyDoc.ID, keyDoc.Owner)
			}
		})
	}
}

func TestParseSignatureHeader(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantKeyID string
		wantAlg   string
		wantHdrs  string
		wantErr   bool
	}{
		{name: "Plain", in: `keyId="k",algorithm="rsa-sha256",headers="(request-target) host date",signature="AAAA"`,
			wantKeyID: "k", wantAlg: "rsa-sha256", wantHdrs: "(request-target) host date"},
		{name: "SpacesAndCase", in: ` KeyId = "k" ,	Headers="(Request-Target)  Host   Date" , signature="AAAA" `,
			wantKeyID: "k", wantHdrs: "(request-target) host date"},
		{name: "CommaAndEqualsInValue", in: `keyId="https://a.example/k?x=1,y=2",signature="AA=="`,
			wantKeyID: "https://a.example/k?x=1,y=2", wantHdrs: "date"},
		{name: "EscapedQuote", in: `keyId="a\"b\\c",signature="AAAA"`, wantKeyID: `a"b\c`, wantHdrs: "date"},
		{name: "UnknownParameterIgnored", in: `foo="x, y",keyId="k",bar=1,signature="AAAA"`, wantKeyID: "k", wantHdrs: "date"},
		{name: "EmptyElements", in: `,,keyId="k",,signature="AAAA",`, wantKeyID: "k", wantHdrs: "date"},
		{name: "BareValues", in: `keyId=k,created=1,expires=2.5,signature="AAAA"`, wantKeyID: "k", wantHdrs: "date"},
		{name: "ErrNoKeyID", in: `signature="AAAA"`, wantErr: true},
		{name: "ErrNoSignature", in: `keyId="k"`, wantErr: true},
		{name: "ErrEmptySignature", in: `keyId="k",signature=""`, wantErr: true},
		{name: "ErrNotBase64", in: `keyId="k",signature="%%%"`, wantErr: true},
		{name: "ErrUnterminated", in: `keyId="k,signature="AAAA`, wantErr: true},
		{name: "ErrRepeated", in: `keyId="a",keyId="b",signature="AAAA"`, wantErr: true},
		{name: "ErrRepeatedCase", in: `keyId="a",KEYID="b",signature="AAAA"`, wantErr: true},
		{name: "ErrNoValue", in: `keyId,signature="AAAA"`, wantErr: true},
		{name: "ErrEmptyBareValue", in: `keyId=,signature="AAAA"`, wantErr: true},
		{name: "ErrJunkAfterQuoted", in: `keyId="k"x,signature="AAAA"`, wantErr: true},
		{name: "ErrEmptyHeaders", in: `keyId="k",headers="",signature="AAAA"`, wantErr: true},
		{name: "ErrCreatedNotInteger", in: `keyId="k",created=1.5,signature="AAAA"`, wantErr: true},
		{name: "ErrExpiresNaN", in: `keyId="k",expires=NaN,signature="AAAA"`, wantErr: true},
		{name: "ErrRFC9421Syntax", in: `sig1=:AAAA:`, wantErr: true},
		{name: "ErrEmpty", in: ``, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseSignatureHeader(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.keyID != tt.wantKeyID || p.algorithm != tt.wantAlg || strings.Join(p.headers, " ") != tt.wantHdrs {
				t.Errorf("got keyId %q algorithm %q headers %q, want %q %q %q",
					p.keyID, p.algorithm, strings.Join(p.headers, " "), tt.wantKeyID, tt.wantAlg, tt.wantHdrs)
			}
		})
	}
}

func TestSignatureError(t *testing.T) {
	inner := errors.New("boom")
	err := error(&SignatureError{Reason: reasonKeyFetch, Err: inner})
	if !errors.Is(err, inner) {
		t.Error("SignatureError does not unwrap to its Err")
	}
	if got, want := err.Error(), "http signature: could not fetch key: boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&SignatureError{Reason: reasonUnsigned}).Error(), "http signature: request is not signed"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func FuzzParseSignatureHeader(f *testing.F) {
	// Real header values from every fixture, RFC 9421 ones included.
	var cavage cavageVectors
	sigTestJSON(f, "testdata/cavage-12/vectors.json", &cavage)
	for _, c := range cavage.Cases {
		f.Add(strings.TrimPrefix(c.Authorization, "Signature "))
	}
	var mastodon mastodonVectors
	sigTestJSON(f, "testdata/mastodon-signatures/vectors.json", &mastodon)
	for _, c := range mastodon.Cases {
		f.Add(c.Headers["Signature"])
		if v, ok := c.Headers["Signature-Input"]; ok {
			f.Add(v)
		}
	}
	fedify, err := os.ReadFile("testdata/fedify/cavage-vector.json")
	if err != nil {
		f.Fatal(err)
	}
	_, sig, _ := strings.Cut(string(fedify), `"Signature": "`)
	sig, _, _ = strings.Cut(sig, `"`+"\n")
	f.Add(strings.ReplaceAll(sig, `\"`, `"`))
	for _, s := range []string{
		`keyId="a\"b",signature="AAAA"`,
		`keyId="k",created=1402170695,expires=1402170699.5,headers="(request-target) (created) (expires) host date",signature="AAAA"`,
		`keyId="k"  ,  signature  =  "AAAA"  ,`,
		`keyId="k",signature="AAAA\`,
		`=,=,"`,
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseSignatureHeader(s)
		if err != nil {
			return
		}
		if p.keyID == "" || len(p.signature) == 0 || len(p.headers) == 0 {
			t.Fatalf("parsed %q into incomplete %+v", s, p)
		}
		for _, h := range p.headers {
			if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, " \t") {
				t.Fatalf("parsed %q: bad header name %q", s, h)
			}
		}
	})
}

// mustReplace replaces the first old in s, failing the test if there is
// none: a case that edits a header must not pass by editing nothing.
func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q is not in %q", old, s)
	}
	return strings.Replace(s, old, new, 1)
}
