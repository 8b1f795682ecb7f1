package api

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// tokenCacheTTL bounds how long a revoked token keeps working on the
// routes that use authenticateCached. Reading a timeline is the hottest
// path of the API; resolving its token costs two queries, as many as the
// timeline itself, so the hot read routes resolve a token at most once
// every two seconds per process.
const tokenCacheTTL = 2 * time.Second

// tokenCache maps a token's SHA-256 to its account and scopes. The zero
// value is ready.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[32]byte]cachedToken
}

type cachedToken struct {
	auth    *auth
	expires time.Time
}

// authenticateCached is authenticate with a short-lived cache, for the
// read routes of timelines and notifications.
func (s *Server) authenticateCached(next http.Handler) http.Handler {
	return s.authenticateWith(func(ctx context.Context, sum [32]byte) (*auth, error) {
		return s.tokens.lookup(ctx, s, sum)
	}, next)
}

func (c *tokenCache) lookup(ctx context.Context, s *Server, sum [32]byte) (*auth, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[sum]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.auth, nil
	}
	got, err := s.lookupToken(ctx, sum)
	if err != nil {
		return nil, err // failures are not cached: a new token works at once
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) > 100_000 {
		c.entries = map[[32]byte]cachedToken{}
	}
	c.entries[sum] = cachedToken{auth: got, expires: now.Add(tokenCacheTTL)}
	c.mu.Unlock()
	return got, nil
}
