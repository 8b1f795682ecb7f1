package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/queue"
)

// Fetcher fetches an ActivityPub document from its origin with a signed
// GET; *federation.Resolver is one (its Get also caps the size).
type Fetcher interface {
	Get(ctx context.Context, url string) ([]byte, error)
}

// Defaults of the Processor's fetching.
const (
	// DefaultContextDepth is how many ancestors of a reply are fetched.
	DefaultContextDepth = 5
	// DefaultFetchesPerHost is how many objects may be fetched from one
	// host per minute, so a remote cannot make us crawl it (or another
	// host) by sending replies to long made-up threads.
	DefaultFetchesPerHost = 60
	// DefaultContextTimeout bounds the fetch of a reply's thread: the
	// reply is committed first, so this only delays the ack.
	DefaultContextTimeout = 10 * time.Second
)

// errFetchLimited is a fetch refused by the per-host rate.
var errFetchLimited = errors.New("too many fetches from this host")

// fetchObject fetches uri from its origin and decodes it; the document's
// id must be uri. Refusals that a retry cannot change (the origin says
// 4xx, the document lies about its id) are queue.Permanent.
func (p *Processor) fetchObject(ctx context.Context, uri string) (*activitypub.Object, []byte, error) {
	if p.Fetcher == nil {
		return nil, nil, queue.Permanent(fmt.Errorf("fetch %s: no fetcher", uri))
	}
	host, err := activitypub.HostOf(uri)
	if err != nil {
		return nil, nil, queue.Permanent(fmt.Errorf("fetch object: %w", err))
	}
	release, ok := p.limiter.acquire(host, p.fetchesPerHost(), time.Now())
	if !ok {
		return nil, nil, fmt.Errorf("fetch %s: %w", uri, errFetchLimited)
	}
	body, err := p.Fetcher.Get(ctx, uri)
	release()
	var fe *federation.FetchError
	if errors.As(err, &fe) && fe.Status >= 400 && fe.Status < 500 && fe.Status != http.StatusTooManyRequests {
		return nil, nil, queue.Permanent(err)
	}
	if err != nil {
		return nil, nil, err
	}
	if reason := unstorableText(body); reason != "" {
		return nil, nil, queue.Permanent(fmt.Errorf("fetch %s: %s", uri, reason))
	}
	obj, err := activitypub.DecodeFetchedObject(uri, body)
	if err != nil {
		return nil, nil, queue.Permanent(fmt.Errorf("fetch %s: %w", uri, err))
	}
	return obj, body, nil
}

// refetch replaces the object of a forwarded Create or Update by the copy
// its origin serves: the forwarder's signature does not vouch for the
// actor, so the embedded copy is not trusted.
func (p *Processor) refetch(ctx context.Context, act *activitypub.Activity) error {
	if act.Object.ID == "" {
		return queue.Permanent(errors.New("forwarded activity without an object id"))
	}
	_, body, err := p.fetchObject(ctx, act.Object.ID)
	if err != nil {
		return fmt.Errorf("refetch forwarded object: %w", err)
	}
	act.Object = activitypub.Ref{ID: act.Object.ID, Raw: json.RawMessage(body)}
	return nil
}

// fetchStatus returns the status uri, fetching it from its origin and
// storing it (as a status of its attributedTo author) when it is not known
// yet; depth more of its ancestors are fetched the same way. Concurrent
// calls for one uri (a post boosted by many at once) share one fetch.
func (p *Processor) fetchStatus(ctx context.Context, uri string, depth int) (*starling.Status, error) {
	if st, err := p.Store.StatusByURI(ctx, uri); err == nil || !errors.Is(err, starling.ErrNotFound) {
		return st, err
	}
	v, err, _ := p.flight.Do(uri, func() (any, error) { return p.fetchNewStatus(ctx, uri, depth) })
	if err != nil {
		return nil, err
	}
	return v.(*starling.Status), nil
}

func (p *Processor) fetchNewStatus(ctx context.Context, uri string, depth int) (*starling.Status, error) {
	if _, err := p.Store.StatusIDByURI(ctx, uri); err == nil {
		return nil, queue.Permanent(fmt.Errorf("status %s was deleted", uri))
	}
	obj, _, err := p.fetchObject(ctx, uri)
	if err != nil {
		return nil, err
	}
	if !activitypub.IsStatusType(obj.Type) || obj.IsPollVote() {
		return nil, queue.Permanent(fmt.Errorf("%s is a %s, not a status", uri, obj.Type))
	}
	if obj.AttributedTo.ID == "" || !activitypub.SameHost(obj.ID, obj.AttributedTo.ID) {
		return nil, queue.Permanent(fmt.Errorf("object %s is not on its author's host", obj.ID))
	}
	author, err := p.Actors.Actor(ctx, obj.AttributedTo.ID, false)
	if err != nil {
		return nil, fmt.Errorf("resolve author %s: %w", obj.AttributedTo.ID, err)
	}
	st := p.statusOf(obj, author, nil, nil)
	if err := p.addAddressees(ctx, st, obj, nil); err != nil {
		return nil, err
	}
	if err := p.insertStatus(ctx, st); err != nil {
		return nil, err
	}
	if depth > 0 && st.InReplyToURI != "" {
		p.fetchContext(ctx, st.InReplyToURI, depth-1)
	}
	return p.Store.StatusByURI(ctx, uri)
}

// fetchContext fetches the parent of a reply (and its ancestors, depth
// more) so the thread has its context. It is best effort: a parent that
// cannot be had leaves the reply as it is, so errors are only logged.
func (p *Processor) fetchContext(ctx context.Context, parentURI string, depth int) {
	if parentURI == "" || depth < 0 {
		return
	}
	if _, err := p.Store.StatusIDByURI(ctx, parentURI); err == nil {
		return // known (or deleted): nothing to fetch
	}
	if _, err := activitypub.HostOf(parentURI); err != nil {
		return
	}
	if _, err := p.fetchStatus(ctx, parentURI, depth); err != nil {
		p.Logger.Info("could not fetch the parent of a reply", "parent", parentURI, "error", err)
	}
}

func (p *Processor) fetchesPerHost() int {
	if p.FetchesPerHost > 0 {
		return p.FetchesPerHost
	}
	return DefaultFetchesPerHost
}

func (p *Processor) contextDepth() int {
	if p.ContextDepth > 0 {
		return p.ContextDepth
	}
	return DefaultContextDepth
}

func (p *Processor) contextTimeout() time.Duration {
	if p.ContextTimeout > 0 {
		return p.ContextTimeout
	}
	return DefaultContextTimeout
}

// hostLimiter allows n fetches per host in each minute (a fixed window:
// simple, and a burst of 2n at a window's edge is harmless here), and at
// most maxInFlight at once, so a slow host holds few inbox workers however
// many replies point at it. Its zero value is ready; it is safe for
// concurrent use.
type hostLimiter struct {
	mu      sync.Mutex
	windows map[string]*window
}

// maxInFlight is how many fetches may wait on one host at once.
const maxInFlight = 2

type window struct {
	start    time.Time
	n        int
	inFlight int
}

// acquire takes a fetch from host's allowance; ok is false when there is
// none left. release must be called when the fetch is done.
func (l *hostLimiter) acquire(host string, n int, now time.Time) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.windows == nil {
		l.windows = map[string]*window{}
	}
	w := l.windows[host]
	if w == nil {
		if len(l.windows) > 10_000 {
			// Forget idle hosts rather than grow without bound.
			for h, old := range l.windows {
				if old.inFlight == 0 && now.Sub(old.start) >= time.Minute {
					delete(l.windows, h)
				}
			}
		}
		w = &window{start: now}
		l.windows[host] = w
	}
	if now.Sub(w.start) >= time.Minute {
		w.start, w.n = now, 0
	}
	if w.n >= n || w.inFlight >= maxInFlight {
		return nil, false
	}
	w.n++
	w.inFlight++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		w.inFlight--
	}, true
}
