package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/starling-social/starling"
)

// RemoteMediaStore is what the remote media cache needs of the store.
type RemoteMediaStore interface {
	RemoteMediaFile(ctx context.Context, hash string) (string, error)
	RecordRemoteMedia(ctx context.Context, m starling.RemoteMedia) error
}

// RemoteMedia shows remote pictures (attachments, avatars, headers)
// through this server: the API hands out /system/remote/<mac>/<url>
// links; the first request for one fetches the picture with the guarded
// client (no private addresses, redirects re-checked), within MaxSize and
// a per-host rate, and keeps it in the media store; later requests are
// served from there. The media sweeper removes copies after their days.
//
// The links carry the remote URL itself, signed with Secret, so this
// server proxies only what it handed out and needs no lookup to know
// what a link means. When a picture cannot be fetched (too large, the
// host too busy or down, not a picture), the client is sent to the
// remote URL: it sees the picture as it would have without the cache.
type RemoteMedia struct {
	Files  MediaFiles // the media store: files under --data-dir or the bucket
	Client *http.Client
	Store  RemoteMediaStore
	Secret []byte
	// MaxSize bounds a picture; default 16 MB (larger ones are shown from
	// their server).
	MaxSize int64
	// PerHost bounds fetches per second from one remote host (a burst of
	// ten times that); default 5.
	PerHost float64
	Logger  *slog.Logger
	Now     func() time.Time

	fetches singleflight.Group // one fetch of a picture at a time
	mu      sync.Mutex
	hosts   map[string]*rate.Limiter
}

// remotePrefix is the path of proxied remote media.
const remotePrefix = "/system/remote/"

// URL returns the link under base by which clients load the remote
// picture u.
func (m *RemoteMedia) URL(base, u string) string {
	if u == "" || !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) {
		return u
	}
	return base + remotePrefix + m.mac(u) + "/" + base64.RawURLEncoding.EncodeToString([]byte(u))
}

func (m *RemoteMedia) mac(u string) string {
	h := hmac.New(sha256.New, m.Secret)
	h.Write([]byte(u))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// remoteMediaURL is URL when the cache is on, else u itself.
func (s *Server) remoteMediaURL(u string) string {
	if s.RemoteMedia == nil {
		return u
	}
	return s.RemoteMedia.URL(s.Site.Base(), u)
}

// serveRemoteMedia answers GET /system/remote/<mac>/<url>.
func (s *Server) serveRemoteMedia(w http.ResponseWriter, r *http.Request) {
	m := s.RemoteMedia
	if m == nil || s.Media == nil {
		http.NotFound(w, r)
		return
	}
	mac, enc, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, remotePrefix), "/")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !hmac.Equal([]byte(mac), []byte(m.mac(string(raw)))) {
		http.NotFound(w, r) // not a link this server handed out
		return
	}
	remote := string(raw)
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:])
	key, err := m.Store.RemoteMediaFile(r.Context(), hash)
	if errors.Is(err, starling.ErrNotFound) {
		v, ferr, _ := m.fetches.Do(hash, func() (any, error) { return m.fetch(context.WithoutCancel(r.Context()), remote, hash) })
		if ferr != nil {
			m.Logger.Debug("remote media shown from its server", "url", remote, "reason", ferr)
			http.Redirect(w, r, remote, http.StatusFound)
			return
		}
		key, err = v.(string), nil
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveFile(w, r, key)
}

// errNotPicture is a remote answer that is not a picture: not proxied.
var errNotPicture = errors.New("not a picture")

// remoteTypes are the media types the cache keeps, with their extensions
// (the files are served by extension).
var remoteTypes = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/avif": ".avif",
	"video/mp4": ".mp4", "video/webm": ".webm", "audio/mpeg": ".mp3", "audio/ogg": ".ogg",
}

// fetch gets the picture at remote and keeps it; it returns its key.
func (m *RemoteMedia) fetch(ctx context.Context, remote, hash string) (string, error) {
	u, err := url.Parse(remote)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("remote media %q: not a URL", remote)
	}
	if !m.limiter(u.Host).Allow() {
		return "", fmt.Errorf("remote media from %s: over %v fetches a second", u.Host, m.perHost())
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, remote, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "image/*, video/*, audio/*")
	resp, err := m.Client.Do(req) // the guarded client: no private addresses, redirects re-checked
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("remote media %s: status %d", remote, resp.StatusCode)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	ext, ok := remoteTypes[ct]
	if !ok {
		return "", fmt.Errorf("%w: %q", errNotPicture, ct)
	}
	max := m.MaxSize
	if max <= 0 {
		max = 16 << 20
	}
	if resp.ContentLength > max {
		return "", fmt.Errorf("remote media %s: %d bytes, over %d", remote, resp.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return "", err
	}
	if int64(len(data)) > max {
		return "", fmt.Errorf("remote media %s: over %d bytes", remote, max)
	}
	key := "remote/" + hash[:2] + "/" + hash + ext
	if err := m.Files.Put(ctx, key, data); err != nil {
		return "", err
	}
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	if err := m.Store.RecordRemoteMedia(ctx, starling.RemoteMedia{Hash: hash, FileKey: key, URL: remote, Host: u.Host,
		Size: int64(len(data)), FetchedAt: now}); err != nil {
		return "", err
	}
	// Another process may have fetched it meanwhile: the store keeps the
	// first record, whose file is then the one served.
	return m.Store.RemoteMediaFile(ctx, hash)
}

func (m *RemoteMedia) perHost() float64 {
	if m.PerHost > 0 {
		return m.PerHost
	}
	return 5
}

// limiter returns host's fetch rate limiter. The map is bounded: past
// 10,000 hosts it starts again (a flood of hosts gets fresh limits, which
// is no worse than the per-host limit they would each have had).
func (m *RemoteMedia) limiter(host string) *rate.Limiter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hosts == nil || len(m.hosts) >= 10_000 {
		m.hosts = map[string]*rate.Limiter{}
	}
	l, ok := m.hosts[host]
	if !ok {
		l = rate.NewLimiter(rate.Limit(m.perHost()), int(10*m.perHost()))
		m.hosts[host] = l
	}
	return l
}
