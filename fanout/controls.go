package fanout

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/starling-social/starling"
)

// ControlStore reads what admins decided about hosts.
type ControlStore interface {
	HostControls(ctx context.Context) ([]starling.HostControl, error)
}

// Controls is every process's view of host_controls: paused, suspended,
// retried and purged hosts. It rereads the table when its copy is older
// than TTL, on the path of the delivery that finds it stale (one query
// per TTL per process, returning only the few hosts with a decision), so
// a pause taken through any process stops attempts everywhere within TTL
// without a notification channel to keep alive. Safe for concurrent use.
type Controls struct {
	Store  ControlStore
	TTL    time.Duration // default 500ms
	Logger *slog.Logger

	refresh sync.Mutex // held by the one caller rereading
	mu      sync.RWMutex
	hosts   map[string]starling.HostControl
	loaded  time.Time
}

// Host returns what was decided about host, read at most TTL ago. A
// store that is away keeps the last copy (logged).
func (c *Controls) Host(ctx context.Context, host string) (starling.HostControl, bool) {
	if c == nil {
		return starling.HostControl{}, false
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = 500 * time.Millisecond
	}
	c.mu.RLock()
	stale := time.Since(c.loaded) > ttl
	c.mu.RUnlock()
	if stale {
		c.reload(ctx, ttl)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	hc, ok := c.hosts[host]
	return hc, ok
}

// Suspended reports whether host is suspended; the inbox refuses it.
func (c *Controls) Suspended(ctx context.Context, host string) bool {
	hc, ok := c.Host(ctx, host)
	return ok && hc.Suspended
}

func (c *Controls) reload(ctx context.Context, ttl time.Duration) {
	c.refresh.Lock()
	defer c.refresh.Unlock()
	c.mu.RLock()
	fresh := time.Since(c.loaded) <= ttl
	c.mu.RUnlock()
	if fresh {
		return // another caller reread it while this one waited
	}
	list, err := c.Store.HostControls(ctx)
	if err != nil {
		if c.Logger != nil {
			c.Logger.Warn("keeping the last host controls", "error", err)
		}
		c.mu.Lock()
		c.loaded = time.Now() // try again after TTL, not on every delivery
		c.mu.Unlock()
		return
	}
	m := make(map[string]starling.HostControl, len(list))
	for _, hc := range list {
		m[hc.Host] = hc
	}
	c.mu.Lock()
	c.hosts, c.loaded = m, time.Now()
	c.mu.Unlock()
}
