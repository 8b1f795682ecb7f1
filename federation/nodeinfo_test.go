package federation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/signature"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

func TestSoftwareStandard(t *testing.T) {
	tests := []struct {
		name, version string
		want          signature.Standard
	}{
		{"mastodon", "4.5.0", signature.StandardRFC9421},
		{"mastodon", "4.5.2+glitch", signature.StandardRFC9421},
		{"Mastodon", "5.0.0-beta.1", signature.StandardRFC9421},
		{"mastodon", "4.4.9", ""},
		{"mastodon", "3.5.19", ""},
		{"mastodon", "garbage", ""},
		{"mastodon", "", ""},
		{"gotosocial", "0.20.1", ""},
		{"misskey", "2025.4.0", ""},
	}
	for _, tt := range tests {
		got, ok := SoftwareStandard(tt.name, tt.version)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("SoftwareStandard(%q, %q) = %q, %v; want %q", tt.name, tt.version, got, ok, tt.want)
		}
	}
}

// A Mastodon actor (a real one, from the samples) whose server's NodeInfo
// says what it runs: the Knocker starts where that version verifies, and
// the NodeInfo is read once per host.
func TestResolver_GuessFromNodeInfo(t *testing.T) {
	actor, err := os.ReadFile(filepath.Join("..", "activitypub", "testdata", "samples", "mastodon", "actor-service.json"))
	if err != nil {
		t.Fatal(err)
	}
	nodeinfo, err := os.ReadFile(filepath.Join("testdata", "nodeinfo-mastodon.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		version  string // of Mastodon in its NodeInfo
		linkHost string // where the well-known document points; "" the host itself
		want     signature.Standard
	}{
		{"Mastodon 4.5", "4.5.2", "", signature.StandardRFC9421},
		{"Mastodon 4.4", "4.4.3", "", signature.StandardCavage},
		{"NodeInfo on another host", "4.5.2", "elsewhere.example", signature.StandardCavage},
		{"no NodeInfo", "", "", signature.StandardCavage},
	}
	db := pgtest.NewDB(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reads atomic.Int32
			var base string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/.well-known/nodeinfo":
					reads.Add(1)
					if tt.version == "" {
						http.NotFound(w, r)
						return
					}
					href := base + "/nodeinfo/2.0"
					if tt.linkHost != "" {
						href = "http://" + tt.linkHost + "/nodeinfo/2.0"
					}
					w.Write([]byte(`{"links":[{"rel":"http://nodeinfo.diaspora.software/ns/schema/2.0","href":"` + href + `"}]}`))
				case "/nodeinfo/2.0":
					w.Write([]byte(strings.Replace(string(nodeinfo), "VERSION", tt.version, 1)))
				case "/users/fediverse", "/users/other":
					w.Header().Set("Content-Type", activitypub.ContentType)
					doc := strings.ReplaceAll(string(actor), "https://mastodont.cat", base)
					name := strings.TrimPrefix(r.URL.Path, "/users/")
					doc = strings.ReplaceAll(doc, base+"/users/fediverse", base+r.URL.Path)
					doc = strings.Replace(doc, `"preferredUsername": "fediverse"`, `"preferredUsername": "`+name+`"`, 1)
					w.Write([]byte(doc))
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			base = srv.URL
			host := strings.TrimPrefix(srv.URL, "http://")
			k := &Knocker{Store: newMemStandards(map[string]string{})}
			res := &Resolver{Store: db, Client: srv.Client(), Site: Site{Scheme: "https", Host: "starling.test"}, Scheme: "http", Knocker: k}
			g := &SoftwareGuesser{Resolver: res, Knocker: k}
			res.Software = g
			for _, path := range []string{"/users/fediverse", "/users/other"} {
				if _, err := res.Actor(t.Context(), base+path, false); err != nil {
					t.Fatal(err)
				}
			}
			// Two actors of one host, noticed before the guesser runs: the
			// host waits in the queue once.
			if n := len(g.hosts); n != 1 {
				t.Errorf("%d hosts queued for two actors of one host, want 1", n)
			}
			ctx, stop := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- g.Run(ctx) }()
			defer func() {
				stop()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			deadline := time.Now().Add(10 * time.Second)
			for g.read.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := k.Preferred(t.Context(), host); got != tt.want {
				t.Errorf("first knock to %s: %s, want %s", host, got, tt.want)
			}
			if n := reads.Load(); n != 1 {
				t.Errorf("NodeInfo read %d times for two actors of one host, want once", n)
			}
		})
	}
}
