package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/media"
	"github.com/starling-social/starling/media/mediatest"
)

// TestRemoteMediaCache: with --remote-media-days, a remote post's picture
// is shown through this server: the API's url is a signed link here and
// remote_url the original; the first view fetches and keeps it, and the
// bytes are the remote's; a forged link is a 404; after its days the
// sweeper deletes the copy, and the next view fetches it again.
func TestRemoteMediaCache(t *testing.T) {
	a := startInstance(t, "A", func(c *Config) { c.RemoteMediaDays = 7 })
	b := startInstance(t, "B")
	alice, bob := a.user("alice"), b.user("bob")
	a.follow(alice, a.resolve(alice, "bob@"+b.cfg.Domain))

	m := b.uploadReady(bob, mediatest.ExifJPEG(t, 300, 200), nil)
	code, _, body := b.raw("POST", "/api/v1/statuses", bob, url.Values{"status": {"a picture"}, "media_ids[]": {m.ID}})
	if code != http.StatusOK {
		t.Fatalf("post: %d %s", code, body)
	}
	var posted struct{ URI string }
	_ = json.Unmarshal(body, &posted)

	var seen mediaEntity
	waitFor(t, 20*time.Second, "the post with its picture on A", func() bool {
		var page []struct {
			URI              string        `json:"uri"`
			MediaAttachments []mediaEntity `json:"media_attachments"`
		}
		a.mustCall("GET", "/api/v1/timelines/home", alice, nil, &page)
		for _, st := range page {
			if st.URI == posted.URI && len(st.MediaAttachments) == 1 {
				seen = st.MediaAttachments[0]
				return true
			}
		}
		return false
	})
	if seen.URL == nil || !strings.HasPrefix(*seen.URL, a.base+"/system/remote/") || seen.RemoteURL == nil || *seen.RemoteURL != *m.URL ||
		seen.PreviewURL == nil || !strings.HasPrefix(*seen.PreviewURL, a.base+"/system/remote/") {
		t.Fatalf("A shows the remote picture as url %v, preview %v, remote_url %v; want links on A and B's URL", deref(seen.URL), deref(seen.PreviewURL), deref(seen.RemoteURL))
	}
	_, _, original := fetch(t, b.client, *m.URL)
	code, ctype, cached := fetch(t, a.client, *seen.URL)
	if code != http.StatusOK || ctype != "image/jpeg" || !bytes.Equal(cached, original) {
		t.Fatalf("GET the link on A: %d %s, %d bytes (the original has %d)", code, ctype, len(cached), len(original))
	}
	ctx := context.Background()
	sum := sha256.Sum256([]byte(*m.URL))
	hash := hex.EncodeToString(sum[:])
	key, err := a.srv.Store.RemoteMediaFile(ctx, hash)
	if err != nil {
		t.Fatalf("no cached copy recorded: %v", err)
	}

	forged := strings.Replace(*seen.URL, "/system/remote/", "/system/remote/00", 1)
	if code, _, _ := fetch(t, a.client, forged); code != http.StatusNotFound {
		t.Errorf("a forged link: %d, want 404", code)
	}
	other := a.base + "/system/remote/" + strings.Repeat("0", 32) + "/aHR0cDovLzEyNy4wLjAuMTo5L3g" // http://127.0.0.1:9/x, unsigned
	if code, _, _ := fetch(t, a.client, other); code != http.StatusNotFound {
		t.Errorf("an unsigned link: %d, want 404", code)
	}

	// Eight days on, the sweeper deletes the copy.
	sw := &media.Sweeper{Store: a.srv.Store, Files: &media.Files{Dir: filepath.Join(a.cfg.DataDir, "media")},
		Remote: a.srv.Store, RemoteKeep: 7 * 24 * time.Hour, Logger: testLogger(t, "sweeper"),
		Now: func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }}
	if n, err := sw.SweepRemote(ctx); err != nil || n != 1 {
		t.Fatalf("swept %d (%v), want 1", n, err)
	}
	if _, err := a.srv.Store.RemoteMediaFile(ctx, hash); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("the pruned copy is still recorded: %v", err)
	}
	if p, _ := (&media.Files{Dir: filepath.Join(a.cfg.DataDir, "media")}).Path(key); fileExists(p) {
		t.Errorf("the pruned copy's file %s is still there", p)
	}
	if code, _, again := fetch(t, a.client, *seen.URL); code != http.StatusOK || !bytes.Equal(again, original) {
		t.Errorf("the link after pruning: %d, %d bytes", code, len(again))
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestRemoteMediaCacheMastodonSample: the picture of a real Mastodon
// Create (the corpus's create-note-attachment.json, a Document with
// mediaType and no size) arrives signed by its actor; its server is
// played by a loopback server holding the JPEG at the sample's path. A,
// caching remote media, shows it through its own link, fetches it once
// however often it is viewed, and serves the remote's bytes.
func TestRemoteMediaCacheMastodonSample(t *testing.T) {
	picture := mediatest.ExifJPEG(t, 64, 48)
	var fetches atomic.Int32
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/system/media_attachments/files/000/000/002/original/334ce029e7bfb920.jpg" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(picture)
	}))
	defer remote.Close()
	sample, err := os.ReadFile(filepath.Join("testdata", "mastodon-create-note-attachment.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The sample's server is the loopback one: ids, actor and picture.
	body := bytes.ReplaceAll(sample, []byte("http://mastodon.example.org"), []byte(remote.URL))

	a := startInstance(t, "A", func(c *Config) { c.RemoteMediaDays = 7 })
	alice := a.user("alice")
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	actor := remote.URL + "/users/admin"
	admin := must(a.srv.Store.UpsertRemoteAccount(ctx, &starling.Account{Username: "admin", Domain: strings.TrimPrefix(remote.URL, "http://"),
		URI: actor, KeyID: actor + "#main-key", InboxURL: actor + "/inbox",
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}))
	me := must(a.srv.Store.AccountByAcct(ctx, "alice", ""))
	must(a.srv.Store.UpsertRemoteFollow(ctx, &starling.Follow{ID: starling.NewID(time.Now()), FollowerID: me.ID, FolloweeID: admin.ID,
		URI: a.base + "/follows/admin", Accepted: true}))

	resp := must(a.client.Do(signedPost(t, a.base+"/inbox", actor+"#main-key", key, body, time.Now())))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("inbox: %d", resp.StatusCode)
	}
	note := remote.URL + "/users/admin/statuses/99541822081679796"
	var seen mediaEntity
	waitFor(t, 20*time.Second, "the sample's post with its picture in alice's home", func() bool {
		var page []struct {
			URI              string        `json:"uri"`
			MediaAttachments []mediaEntity `json:"media_attachments"`
		}
		a.mustCall("GET", "/api/v1/timelines/home", alice, nil, &page)
		for _, st := range page {
			if st.URI == note && len(st.MediaAttachments) == 1 {
				seen = st.MediaAttachments[0]
				return true
			}
		}
		return false
	})
	original := remote.URL + "/system/media_attachments/files/000/000/002/original/334ce029e7bfb920.jpg"
	if seen.URL == nil || !strings.HasPrefix(*seen.URL, a.base+"/system/remote/") || deref(seen.RemoteURL) != original || seen.Type != "image" {
		t.Fatalf("the sample's picture shown as %+v (url %s, remote_url %s)", seen, deref(seen.URL), deref(seen.RemoteURL))
	}
	for range 3 {
		code, ctype, data := fetch(t, a.client, *seen.URL)
		if code != http.StatusOK || ctype != "image/jpeg" || !bytes.Equal(data, picture) {
			t.Fatalf("GET the link on A: %d %s, %d bytes", code, ctype, len(data))
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("the remote picture was fetched %d times for three views, want once", n)
	}
}
