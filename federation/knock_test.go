package federation

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/starling-social/starling/signature"
)

// memStandards is a StandardStore in memory.
type memStandards struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memStandards) HostSignatureStandards(ctx context.Context) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.m))
	for h, std := range s.m {
		out[h] = std
	}
	return out, nil
}

func (s *memStandards) SetHostSignatureStandard(ctx context.Context, host, std string, overwrite bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if overwrite || s.m[host] == "" {
		s.m[host] = std
	}
	return nil
}

// A first knock that succeeds must not undo an RFC 9421 learnt meanwhile
// (Fedify answers a Follow with an RFC 9421-signed Accept before it answers
// the Follow's POST).
func TestKnocker_LearnBeatsFirstKnock(t *testing.T) {
	store := &memStandards{m: map[string]string{}}
	k := &Knocker{Store: store}
	host := "peer.example"
	if got := k.Preferred(t.Context(), host); got != signature.StandardCavage {
		t.Fatalf("Preferred = %q for an unknown host", got)
	}
	k.Learn(t.Context(), host, signature.StandardRFC9421)
	k.remember(t.Context(), host, signature.StandardCavage, false)
	if got := k.Preferred(t.Context(), host); got != signature.StandardRFC9421 || store.m[host] != string(signature.StandardRFC9421) {
		t.Fatalf("Preferred = %q, stored %q; want rfc9421", got, store.m[host])
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
			store := &memStandards{m: map[string]string{}}
			k := &Knocker{Store: store}
			body := []byte(`{"type":"Create"}`)
			build := func() (*http.Request, error) {
				return http.NewRequest(http.MethodPost, srv.URL+"/inbox", bytes.NewReader(body))
			}
			for i := 0; i < 2; i++ {
				resp, err := k.Do(t.Context(), srv.Client(), build, "https://remote.example/users/bob#main-key", key, body)
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
			if got := store.m[host]; got != wantStored {
				t.Errorf("remembered %q for %s, want %q", got, host, wantStored)
			}
			// A fresh Knocker reads the memory from the store.
			if got := (&Knocker{Store: store}).Preferred(t.Context(), host); got != accepts {
				t.Errorf("Preferred = %q, want %q", got, accepts)
			}
		})
	}
}

func stds(s []signature.Standard) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}
