package media

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 keeps media files in an S3-compatible object store (AWS S3, MinIO,
// Garage, R2, …), so that every api process of a scaled-out server, on
// any machine, serves the same files: clients fetch them from the
// bucket's public URL (or a CDN in front of it), never through Starling.
type S3 struct {
	client *minio.Client
	bucket string
}

// S3Config names the bucket and how to reach it.
type S3Config struct {
	Endpoint  string // host[:port], without scheme
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	Insecure  bool // plain HTTP to the endpoint
}

// NewS3 connects to the bucket (without a request: a wrong endpoint or key
// shows at the first upload, named in its error).
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, fmt.Errorf("s3 media storage: endpoint and bucket are required")
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 media storage %s: %w", cfg.Endpoint, err)
	}
	return &S3{client: c, bucket: cfg.Bucket}, nil
}

// Put stores data as key, with its content type and Starling's immutable
// caching (a changed picture always gets a new key).
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	if !validKey.MatchString(key) || containsDotDot(key) {
		return fmt.Errorf("s3 put: bad key %q", key)
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType:  contentTypeOf(key),
		CacheControl: "public, max-age=31536000, immutable",
	})
	if err != nil {
		return fmt.Errorf("s3 put %s/%s: %w", s.bucket, key, err)
	}
	return nil
}

// Delete removes key; a key already gone is not an error (S3's delete is
// idempotent).
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("s3 delete %s/%s: %w", s.bucket, key, err)
	}
	return nil
}

func contentTypeOf(key string) string {
	switch path.Ext(key) {
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	}
	return http.DetectContentType(nil)
}
