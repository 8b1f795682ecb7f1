package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/starling-social/starling"
)

// RemoteMedia is the cache of remote pictures fetched through the server.
type RemoteMedia interface {
	RemoteMediaFile(ctx context.Context, hash string) (string, error)
	RecordRemoteMedia(ctx context.Context, m starling.RemoteMedia) error
	ExpiredRemoteMedia(ctx context.Context, before time.Time, limit int) ([]starling.RemoteMedia, error)
	DeleteRemoteMedia(ctx context.Context, hashes []string) error
}

// testRemoteMedia: a fetched copy is found by its URL's hash, the first
// record of a picture stays, expired copies come oldest first, and
// deleted ones are gone.
func testRemoteMedia(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Microsecond)
	old := starling.RemoteMedia{Hash: "aa", FileKey: "remote/aa.jpg", URL: "https://r.test/a.jpg", Host: "r.test", Size: 10, FetchedAt: now.Add(-10 * 24 * time.Hour)}
	fresh := starling.RemoteMedia{Hash: "bb", FileKey: "remote/bb.png", URL: "https://r.test/b.png", Host: "r.test", Size: 20, FetchedAt: now}
	for _, m := range []starling.RemoteMedia{old, fresh} {
		if err := s.RecordRemoteMedia(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	again := fresh
	again.FileKey = "remote/bb-second.png"
	if err := s.RecordRemoteMedia(ctx, again); err != nil {
		t.Fatalf("a second fetch of the same picture: %v", err)
	}
	if key, err := s.RemoteMediaFile(ctx, "bb"); err != nil || key != "remote/bb.png" {
		t.Errorf("file of bb: %q, %v; want the first record's", key, err)
	}
	if _, err := s.RemoteMediaFile(ctx, "cc"); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("an unknown hash: %v, want ErrNotFound", err)
	}
	expired, err := s.ExpiredRemoteMedia(ctx, now.Add(-7*24*time.Hour), 10)
	if err != nil || len(expired) != 1 || expired[0].Hash != "aa" || expired[0].FileKey != old.FileKey || !expired[0].FetchedAt.Equal(old.FetchedAt) {
		t.Fatalf("expired: %+v, %v", expired, err)
	}
	if err := s.DeleteRemoteMedia(ctx, []string{"aa"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoteMediaFile(ctx, "aa"); !errors.Is(err, starling.ErrNotFound) {
		t.Errorf("a deleted copy is still found: %v", err)
	}
	if err := s.DeleteRemoteMedia(ctx, nil); err != nil {
		t.Errorf("deleting nothing: %v", err)
	}
}
