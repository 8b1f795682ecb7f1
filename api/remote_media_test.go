package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/federation"
)

type memFiles struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (f *memFiles) Put(_ context.Context, key string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[key] = data
	return nil
}

type memRemoteStore struct {
	mu   sync.Mutex
	rows map[string]starling.RemoteMedia
}

func (s *memRemoteStore) RemoteMediaFile(_ context.Context, hash string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.rows[hash]; ok {
		return m.FileKey, nil
	}
	return "", starling.ErrNotFound
}

func (s *memRemoteStore) RecordRemoteMedia(_ context.Context, m starling.RemoteMedia) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rows[m.Hash]; !ok {
		s.rows[m.Hash] = m
	}
	return nil
}

// TestRemoteMediaFetchLimits: what the cache refuses to keep (and shows
// from its server instead): answers over MaxSize (declared or not), what
// is not a picture, a host over its rate, and, with the guarded client,
// a picture on a private address.
func TestRemoteMediaFetchLimits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("\x89PNG small"))
		case "/big.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(make([]byte, 2048))
		case "/chunked.jpg": // no Content-Length: the limit is on what is read
			w.Header().Set("Content-Type", "image/jpeg")
			for range 4 {
				w.Write(make([]byte, 600))
				w.(http.Flusher).Flush()
			}
		case "/page.html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<script>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	newCache := func(client *http.Client) (*RemoteMedia, *memFiles) {
		files := &memFiles{files: map[string][]byte{}}
		return &RemoteMedia{Files: files, Client: client, Store: &memRemoteStore{rows: map[string]starling.RemoteMedia{}},
			Secret: []byte("s"), MaxSize: 1024, PerHost: 1}, files
	}
	for _, tt := range []struct {
		path string
		ok   bool
	}{
		{"/small.png", true},
		{"/big.jpg", false},
		{"/chunked.jpg", false},
		{"/page.html", false},
		{"/missing.png", false},
	} {
		t.Run(tt.path, func(t *testing.T) {
			m, files := newCache(srv.Client())
			key, err := m.fetch(t.Context(), srv.URL+tt.path, strings.Repeat("ab", 32))
			if (err == nil) != tt.ok {
				t.Fatalf("fetch: %q, %v; want ok %v", key, err, tt.ok)
			}
			if !tt.ok && len(files.files) != 0 {
				t.Errorf("a refused picture was stored: %v", files.files)
			}
			if tt.ok && (!strings.HasSuffix(key, ".png") || string(files.files[key]) != "\x89PNG small") {
				t.Errorf("stored %q: %q", key, files.files[key])
			}
		})
	}
	t.Run("rate", func(t *testing.T) {
		m, _ := newCache(srv.Client())
		var refused int
		for i := range 20 { // a burst of 10 at 1 a second
			if _, err := m.fetch(t.Context(), srv.URL+"/small.png", strings.Repeat("0", 62)+string(rune('a'+i%6))+"0"); err != nil {
				refused++
			}
		}
		if refused < 5 {
			t.Errorf("20 fetches from one host at once: %d refused, want the rate to hold", refused)
		}
	})
	t.Run("private address", func(t *testing.T) {
		m, files := newCache(federation.NewHTTPClient(0, false))
		_, err := m.fetch(t.Context(), srv.URL+"/small.png", strings.Repeat("cd", 32))
		if !errors.Is(err, federation.ErrPrivateAddress) || len(files.files) != 0 {
			t.Errorf("a picture on loopback: %v, want ErrPrivateAddress and nothing stored", err)
		}
	})
}
