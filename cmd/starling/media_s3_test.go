package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/starling-social/starling/media/mediatest"
)

// TestMediaS3: with an object store configured, uploads go to the bucket
// and clients fetch them from its public URL; /system/ links redirect
// there. The store is gofakes3, an S3-compatible server run in-process
// (MinIO itself cannot be installed here); minio-go speaks to it over
// HTTP as to any S3.
func TestMediaS3(t *testing.T) {
	s3 := mediatest.StartS3(t, "media")
	a := startInstance(t, "A", func(c *Config) {
		c.MediaS3Endpoint = strings.TrimPrefix(s3.URL, "http://")
		c.MediaS3Bucket, c.MediaS3Insecure = "media", true
		c.MediaS3AccessKey, c.MediaS3SecretKey = "starling", "not-a-secret"
		c.MediaBaseURL = s3.URL + "/media"
	})
	alice := a.user("alice")
	m := a.uploadReady(alice, mediatest.ExifJPEG(t, 320, 240), nil)
	if m.URL == nil || !strings.HasPrefix(*m.URL, s3.URL+"/media/media/") {
		t.Fatalf("upload URL %v, want one in the bucket", m.URL)
	}
	code, ctype, data := fetch(t, a.client, *m.URL)
	if code != http.StatusOK || ctype != "image/jpeg" || len(data) == 0 || bytes.Contains(data, []byte("Exif")) {
		t.Errorf("GET %s from the bucket: %d %s, %d bytes", *m.URL, code, ctype, len(data))
	}
	// An old-style link is sent to the bucket.
	key := strings.TrimPrefix(*m.URL, s3.URL+"/media/")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(a.base + "/system/" + key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != *m.URL {
		t.Errorf("/system/%s: %d to %q", key, resp.StatusCode, resp.Header.Get("Location"))
	}
}
