package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
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
