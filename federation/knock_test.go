package federation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/signature"
)

// memStandards is a StandardStore in memory.
type memStandards struct {
	mu sync.Mutex
	m  map[string]starling.HostSignature
}

// newMemStandards holds the standards given, by host, with no refusals.
func newMemStandards(std map[string]string) *memStandards {
	s := &memStandards{m: map[string]starling.HostSignature{}}
	for h, v := range std {
		s.m[h] = starling.HostSignature{Standard: v}
	}
	return s
}

func (s *memStandards) HostSignatures(ctx context.Context) (map[string]starling.HostSignature, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m), nil
}

func (s *memStandards) SetHostSignature(ctx context.Context, host string, sig starling.HostSignature, overwrite bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[host]; overwrite || !ok {
		s.m[host] = sig
	}
	return nil
}

// get is host's record.
func (s *memStandards) get(host string) starling.HostSignature {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[host]
}

// A first knock that succeeds must not undo an RFC 9421 learnt meanwhile
// (Fedify answers a Follow with an RFC 9421-signed Accept before it answers
// the Follow's POST).
func TestKnocker_LearnBeatsFirstKnock(t *testing.T) {
	store := newMemStandards(map[string]string{})
	k := &Knocker{Store: store}
	host := "peer.example"
	if got := k.Preferred(t.Context(), host); got != signature.StandardCavage {
		t.Fatalf("Preferred = %q for an unknown host", got)
	}
	k.Learn(t.Context(), host, signature.StandardRFC9421)
	k.remember(t.Context(), host, hostRecord{std: signature.StandardCavage}, false)
	if got := k.Preferred(t.Context(), host); got != signature.StandardRFC9421 || store.get(host).Standard != string(signature.StandardRFC9421) {
		t.Fatalf("Preferred = %q, stored %q; want rfc9421", got, store.get(host).Standard)
	}
}

// A server that verifies only one standard: the Knocker finds it with a
// second knock, remembers it, and knocks right the first time after.
func TestKnocker_DoubleKnock(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	lookup := &fakeKeyLookup{cached: &key.PublicKey, owner: "https://remote.example/users/bob"}
	for _, accepts := range []signature.Standard{signature.StandardRFC9421, signature.StandardCavage} {
		t.Run(string(accepts), func(t *testing.T) {
			var mu sync.Mutex
			var seen []signature.Standard
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				v, err := signature.VerifyRequest(r.Context(), r, body, time.Now(), lookup.lookup)
				std := signature.StandardCavage
				if r.Header.Get("Signature-Input") != "" {
					std = signature.StandardRFC9421
				}
				mu.Lock()
				seen = append(seen, std)
				mu.Unlock()
				if err != nil || v.Standard != accepts {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			store := newMemStandards(map[string]string{})
			k := &Knocker{Store: store}
			body := []byte(`{"type":"Create"}`)
			build := func() (*http.Request, error) {
				return http.NewRequest(http.MethodPost, srv.URL+"/inbox", bytes.NewReader(body))
			}
			for i := 0; i < 2; i++ {
				resp, err := k.Do(t.Context(), srv.Client(), build, Keys{KeyID: "https://remote.example/users/bob#main-key", Key: key}, body)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("attempt %d: status %d", i, resp.StatusCode)
				}
			}
			host := strings.TrimPrefix(srv.URL, "http://")
			want := []signature.Standard{signature.StandardCavage, signature.StandardRFC9421, signature.StandardRFC9421}
			if accepts == signature.StandardCavage {
				want = []signature.Standard{signature.StandardCavage, signature.StandardCavage}
			}
			if strings.Join(stds(seen), ",") != strings.Join(stds(want), ",") {
				t.Errorf("knocks %v, want %v", seen, want)
			}
			// Only a second knock is worth remembering: unknown means cavage.
			wantStored := string(accepts)
			if accepts == signature.StandardCavage {
				wantStored = ""
			}
			if got := store.get(host).Standard; got != wantStored {
				t.Errorf("remembered %q for %s, want %q", got, host, wantStored)
			}
			// A fresh Knocker reads the memory from the store.
			if got := (&Knocker{Store: store}).Preferred(t.Context(), host); got != accepts {
				t.Errorf("Preferred = %q, want %q", got, accepts)
			}
		})
	}
}

// A host that signed to us with RFC 9421 and an Ed25519 key gets RFC
// 9421 with the actor's Ed25519 key, on the first knock; one that then
// refuses it gets RFC 9421 with RSA after one knock, and from then on
// first.
func TestKnocker_Ed25519(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const rsaKeyID, edKeyID = "https://remote.example/users/bob#main-key", "https://remote.example/users/bob#ed25519-key"
	keys := Keys{KeyID: rsaKeyID, Key: key, Ed25519KeyID: edKeyID, Ed25519: edPriv}
	lookup := func(ctx context.Context, keyID string, refresh bool) (crypto.PublicKey, string, error) {
		if keyID == edKeyID {
			return edPub, "https://remote.example/users/bob", nil
		}
		return &key.PublicKey, "https://remote.example/users/bob", nil
	}
	for _, verifiesEd25519 := range []bool{true, false} {
		t.Run(fmt.Sprint("verifiesEd25519=", verifiesEd25519), func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				v, err := signature.VerifyRequest(r.Context(), r, body, time.Now(), lookup)
				mu.Lock()
				seen = append(seen, fmt.Sprintf("%s ed25519=%v", v.Standard, v.Ed25519))
				mu.Unlock()
				if err != nil || v.Standard != signature.StandardRFC9421 || (v.Ed25519 && !verifiesEd25519) {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			store := newMemStandards(map[string]string{})
			k := &Knocker{Store: store}
			// It signed to us with RFC 9421, RSA then Ed25519, then RSA
			// again: what it verifies only rises.
			k.Learn(t.Context(), host, signature.StandardRFC9421)
			k.Learn(t.Context(), host, signature.StandardRFC9421Ed25519)
			k.Learn(t.Context(), host, signature.StandardRFC9421)
			if got := k.Preferred(t.Context(), host); got != signature.StandardRFC9421Ed25519 {
				t.Fatalf("Preferred = %q", got)
			}
			body := []byte(`{"type":"Create"}`)
			build := func() (*http.Request, error) {
				return http.NewRequest(http.MethodPost, srv.URL+"/inbox", bytes.NewReader(body))
			}
			for i := 0; i < 3; i++ {
				resp, err := k.Do(t.Context(), srv.Client(), build, keys, body)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("attempt %d: status %d", i, resp.StatusCode)
				}
			}
			want := "rfc9421 ed25519=true,rfc9421 ed25519=true,rfc9421 ed25519=true"
			wantStored := signature.StandardRFC9421Ed25519
			if !verifiesEd25519 {
				want = "rfc9421 ed25519=true,rfc9421 ed25519=false,rfc9421 ed25519=false,rfc9421 ed25519=false"
				wantStored = signature.StandardRFC9421
			}
			if got := strings.Join(seen, ","); got != want {
				t.Errorf("knocks %s, want %s", got, want)
			}
			if got := store.get(host).Standard; got != string(wantStored) {
				t.Errorf("remembered %q, want %q", got, wantStored)
			}
		})
	}
	// Without an Ed25519 key, a host known to verify it gets RFC 9421
	// with RSA.
	req, _ := http.NewRequest(http.MethodPost, "http://x.example/inbox", nil)
	k := &Knocker{}
	if err := k.Sign(req, signature.StandardRFC9421Ed25519, Keys{KeyID: rsaKeyID, Key: key}, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if in := req.Header.Get("Signature-Input"); !strings.Contains(in, `alg="rsa-v1_5-sha256"`) {
		t.Errorf("Signature-Input %s", in)
	}
}

// A host guessed to verify Ed25519 (it publishes an Ed25519 key) that
// verifies only draft-cavage, as older Fedify does: the knocks go down
// one standard at a time, once, and draft-cavage is remembered; a guess
// never overrides what is on record.
func TestKnocker_GuessDownToCavage(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := Keys{KeyID: "https://remote.example/users/bob#main-key", Key: key,
		Ed25519KeyID: "https://remote.example/users/bob/ed25519-key", Ed25519: edPriv}
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		std := "draft-cavage"
		if in := r.Header.Get("Signature-Input"); in != "" {
			std = "rfc9421 rsa"
			if strings.Contains(in, "ed25519") {
				std = "rfc9421 ed25519"
			}
		}
		mu.Lock()
		seen = append(seen, std)
		mu.Unlock()
		if std != "draft-cavage" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	store := newMemStandards(map[string]string{})
	k := &Knocker{Store: store}
	k.Guess(t.Context(), host, signature.StandardRFC9421Ed25519)
	body := []byte(`{"type":"Create"}`)
	build := func() (*http.Request, error) {
		return http.NewRequest(http.MethodPost, srv.URL+"/inbox", bytes.NewReader(body))
	}
	for i := range 2 {
		resp, err := k.Do(t.Context(), srv.Client(), build, keys, body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("attempt %d: status %d", i, resp.StatusCode)
		}
	}
	if got, want := strings.Join(seen, ","), "rfc9421 ed25519,rfc9421 rsa,draft-cavage,draft-cavage"; got != want {
		t.Errorf("knocks %s, want %s", got, want)
	}
	if got := store.get(host).Standard; got != string(signature.StandardCavage) {
		t.Errorf("remembered %q, want draft-cavage", got)
	}
	k.Guess(t.Context(), host, signature.StandardRFC9421Ed25519)
	if got := k.Preferred(t.Context(), host); got != signature.StandardCavage {
		t.Errorf("a guess overrode what is on record: Preferred = %q", got)
	}
}

func stds(s []signature.Standard) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}

// A host answering a draft-cavage delivery with Accept-Signature asking
// for Ed25519 gets RFC 9421 with Ed25519 from the next delivery on, with
// no knock of the Knocker's own.
func TestKnocker_AcceptSignature(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		std := "draft-cavage"
		if in := r.Header.Get("Signature-Input"); strings.Contains(in, `alg="ed25519"`) {
			std = "rfc9421-ed25519"
		} else if in != "" {
			std = "rfc9421"
		}
		mu.Lock()
		seen = append(seen, std)
		mu.Unlock()
		w.Header().Set("Accept-Signature", signature.AcceptSignatureEd25519)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	store := newMemStandards(map[string]string{})
	k := &Knocker{Store: store}
	keys := Keys{KeyID: "https://remote.example/users/bob#main-key", Key: key, Ed25519KeyID: "https://remote.example/users/bob#ed25519-key", Ed25519: edPriv}
	build := func() (*http.Request, error) {
		return http.NewRequest(http.MethodPost, srv.URL+"/inbox", strings.NewReader("{}"))
	}
	for i := 0; i < 3; i++ {
		resp, err := k.Do(t.Context(), srv.Client(), build, keys, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got, want := strings.Join(seen, ","), "draft-cavage,rfc9421-ed25519,rfc9421-ed25519"; got != want {
		t.Errorf("knocks %s, want %s", got, want)
	}
}

// A host known to verify RFC 9421 that refuses it (its software changed,
// say) gets draft-cavage after one knock, and first from then on, for
// Reknock: a request it signs the newer way does not raise it back, and a
// Knocker reading the same store (another process, a restart) knows it
// too. After Reknock one delivery knocks with the refused standard again:
// refused, it is remembered for another Reknock; accepted (the server
// upgraded), it is the host's standard again.
func TestKnocker_RefusalRemembered(t *testing.T) {
	key := sigTestPrivateKey(t, bobKeyPath)
	lookup := &fakeKeyLookup{cached: &key.PublicKey, owner: "https://remote.example/users/bob"}
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var (
		mu        sync.Mutex
		now       = start
		seen      []string
		upgraded  bool // the server verifies RFC 9421 too
		clock     = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advanceTo = func(d time.Duration) { mu.Lock(); now = start.Add(d); mu.Unlock() }
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, err := signature.VerifyRequest(r.Context(), r, body, clock(), lookup.lookup)
		mu.Lock()
		seen = append(seen, string(v.Standard))
		ok := err == nil && (v.Standard == signature.StandardCavage || upgraded)
		mu.Unlock()
		if !ok {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	store := newMemStandards(map[string]string{host: string(signature.StandardRFC9421)})
	k := &Knocker{Store: store, Now: clock}
	body := []byte(`{"type":"Create"}`)
	build := func() (*http.Request, error) {
		return http.NewRequest(http.MethodPost, srv.URL+"/inbox", bytes.NewReader(body))
	}
	keys := Keys{KeyID: "https://remote.example/users/bob#main-key", Key: key}
	day := 24 * time.Hour
	for _, step := range []struct {
		at      time.Duration
		upgrade bool
		learn   signature.Standard // a request the host signed meanwhile
		knocks  string
		stored  signature.Standard
	}{
		{at: 0, knocks: "rfc9421,draft-cavage", stored: signature.StandardCavage},
		{at: time.Hour, knocks: "draft-cavage", stored: signature.StandardCavage},
		{at: 1 * day, learn: signature.StandardRFC9421, knocks: "draft-cavage", stored: signature.StandardCavage},
		{at: 6 * day, knocks: "draft-cavage", stored: signature.StandardCavage},
		{at: 8 * day, knocks: "rfc9421,draft-cavage", stored: signature.StandardCavage},
		{at: 9 * day, knocks: "draft-cavage", stored: signature.StandardCavage},
		{at: 14 * day, knocks: "draft-cavage", stored: signature.StandardCavage},
		{at: 16 * day, upgrade: true, knocks: "rfc9421", stored: signature.StandardRFC9421},
		{at: 17 * day, knocks: "rfc9421", stored: signature.StandardRFC9421},
	} {
		advanceTo(step.at)
		mu.Lock()
		seen, upgraded = nil, upgraded || step.upgrade
		mu.Unlock()
		if step.learn != "" {
			k.Learn(t.Context(), host, step.learn)
		}
		resp, err := k.Do(t.Context(), srv.Client(), build, keys, body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		got := strings.Join(seen, ",")
		mu.Unlock()
		if resp.StatusCode != http.StatusAccepted || got != step.knocks || store.get(host).Standard != string(step.stored) {
			t.Errorf("after %s: status %d, knocks %s, stored %q; want 202, %s, %q",
				step.at, resp.StatusCode, got, store.get(host).Standard, step.knocks, step.stored)
		}
		// Another process over the same store chooses the same.
		other := &Knocker{Store: store, Now: clock}
		if got, want := other.Preferred(t.Context(), host), k.Preferred(t.Context(), host); got != want {
			t.Errorf("after %s: another Knocker prefers %s, this one %s", step.at, got, want)
		}
	}
	if r := store.get(host); r.Refused != "" {
		t.Errorf("after the upgrade the refusal is still on record: %+v", r)
	}
}
