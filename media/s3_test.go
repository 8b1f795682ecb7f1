package media

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/starling-social/starling/media/mediatest"
)

// TestS3 puts, reads back over plain HTTP (as a client would, from the
// bucket's URL) and deletes a file in an S3-compatible server (gofakes3,
// in-process).
func TestS3(t *testing.T) {
	srv := mediatest.StartS3(t, "media")
	s3, err := NewS3(S3Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "media", Insecure: true, AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := func() (int, string, string) {
		resp, err := http.Get(srv.URL + "/media/media/1/original.jpg")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if err := s3.Put(ctx, "media/1/original.jpg", []byte("jpeg bytes")); err != nil {
		t.Fatal(err)
	}
	if code, ctype, body := get(); code != 200 || ctype != "image/jpeg" || body != "jpeg bytes" {
		t.Errorf("after put: %d %s %q", code, ctype, body)
	}
	if err := s3.Delete(ctx, "media/1/original.jpg"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(); code != http.StatusNotFound {
		t.Errorf("after delete: %d", code)
	}
	if err := s3.Delete(ctx, "media/1/original.jpg"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	for _, bad := range []string{"../escape", "media/../../x", "/abs", "UPPER"} {
		if err := s3.Put(ctx, bad, nil); err == nil {
			t.Errorf("put %q: no error", bad)
		}
	}
}
