package api

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/starling-social/starling"
)

// Mastodon's default limits (config/initializers/rack_attack.rb): 300
// statuses per account in 3 hours; 300 unauthenticated API requests per
// IP address in 5 minutes.
const (
	DefaultPostLimit   = 300
	postWindow         = 3 * time.Hour
	anonymousPerWindow = 300
	anonymousWindow    = 5 * time.Minute
)

// PostLimitStore counts an account's recent posts.
type PostLimitStore interface {
	RecentLocalStatuses(ctx context.Context, accountID int64, since time.Time, limit int) (n int, oldest int64, err error)
}

func setRateLimit(w http.ResponseWriter, limit, remaining int, reset time.Time) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	h.Set("X-RateLimit-Reset", reset.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// allowPost applies the posting limit to me, counted from the store (so
// every api process sees the same count), and sets the X-RateLimit
// headers. It answers 429 and returns false when me is over it.
func (s *Server) allowPost(w http.ResponseWriter, r *http.Request, me *starling.Account) bool {
	postLimit := s.PostLimit
	if postLimit <= 0 {
		postLimit = DefaultPostLimit
	}
	now := time.Now()
	n, oldest, err := s.Store.RecentLocalStatuses(r.Context(), me.ID, now.Add(-postWindow), postLimit)
	if err != nil {
		s.fail(w, r, err)
		return false
	}
	reset := now.Add(postWindow)
	if oldest != 0 {
		reset = starling.IDTime(oldest).Add(postWindow)
	}
	setRateLimit(w, postLimit, postLimit-n-1, reset)
	if n >= postLimit {
		w.Header().Set("Retry-After", strconv.Itoa(int(max(time.Until(reset).Seconds(), 1))))
		writeError(w, http.StatusTooManyRequests, "Too many requests")
		return false
	}
	return true
}

// ipLimiter counts unauthenticated API requests per address in fixed
// windows, in this process: behind N api processes an address gets N
// times the limit (the posting limit, which matters more, is shared).
type ipLimiter struct {
	mu sync.Mutex
	m  map[string]*loginWindowCount
}

// anonymousLimit limits API requests that carry no token, per IP address.
func (s *Server) anonymousLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bearerToken(r) != "" || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		now := time.Now()
		l := &s.anonymous
		l.mu.Lock()
		if l.m == nil || len(l.m) > 100_000 {
			l.m = map[string]*loginWindowCount{}
		}
		c := l.m[ip]
		if c == nil || now.Sub(c.start) > anonymousWindow {
			c = &loginWindowCount{start: now}
			l.m[ip] = c
		}
		c.n++
		n, reset := c.n, c.start.Add(anonymousWindow)
		l.mu.Unlock()
		setRateLimit(w, anonymousPerWindow, anonymousPerWindow-n, reset)
		if n > anonymousPerWindow {
			w.Header().Set("Retry-After", strconv.Itoa(int(max(time.Until(reset).Seconds(), 1))))
			writeError(w, http.StatusTooManyRequests, "Too many requests")
			return
		}
		next.ServeHTTP(w, r)
	})
}
