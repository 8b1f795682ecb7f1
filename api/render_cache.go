package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/starling-social/starling"
)

// renderCache keeps the JSON of statuses (a boost with the status it
// boosts) rendered without a viewer's flags, for a few seconds. A status
// does not change once posted; a deletion takes it out of the feeds and,
// through the builder's delete event, out of this cache; its author's
// counts may lag by the TTL, as the account cache's do. With
// it a home timeline page is one query of ids and flags, and a copy of
// bytes. The zero value is ready.
type renderCache struct {
	mu      sync.Mutex
	entries map[int64]renderedStatus
	// pages recycles the buffers pages are assembled in (some 50 KB for
	// 40 statuses), which would otherwise be most of the garbage a read
	// makes.
	pages sync.Pool
}

type renderedStatus struct {
	json    []byte
	expires time.Time
}

const renderCacheTTL = 10 * time.Second

func (c *renderCache) get(id int64, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || now.After(e.expires) {
		return nil, false
	}
	return e.json, true
}

// forget drops a deleted status (called on the builder's delete event).
func (c *renderCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

func (c *renderCache) put(id int64, b []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) > 50_000 {
		c.entries = map[int64]renderedStatus{}
	}
	c.entries[id] = renderedStatus{json: b, expires: now.Add(renderCacheTTL)}
}

// HomeFeedRefsStore is the two-step read of the home timeline.
type HomeFeedRefsStore interface {
	HomeFeedRefs(ctx context.Context, accountID int64, p starling.Page) ([]starling.FeedRef, error)
	StatusesByIDs(ctx context.Context, ids []int64) (map[int64]*starling.Status, error)
}

// homeTimeline serves /api/v1/timelines/home: ids and flags from the
// feed, statuses from the render cache, the rest loaded in one query.
func (s *Server) homeTimeline(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	p, err := pageParams(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	refs, err := s.Store.HomeFeedRefs(ctx, me.ID, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if vf := s.viewerFilters(ctx, me); vf.home() {
		s.filteredHome(w, r, me, refs, vf) // filter_apply.go
		return
	}
	now := time.Now()
	parts := make([][]byte, len(refs))
	var missing []int64
	for i, ref := range refs {
		if ref.Favourited || ref.Reblogged || ref.Bookmarked || ref.Pinned {
			missing = append(missing, ref.ID, ref.ReblogOfID) // rendered for this viewer, not cached
			continue
		}
		if b, ok := s.rendered.get(ref.ID, now); ok {
			parts[i] = b
		} else {
			missing = append(missing, ref.ID, ref.ReblogOfID)
		}
	}
	if len(missing) > 0 {
		loaded, err := s.Store.StatusesByIDs(ctx, missing)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for i, ref := range refs {
			if parts[i] != nil {
				continue
			}
			st := loaded[ref.ID]
			if st == nil {
				continue // deleted between the two reads
			}
			it := &starling.Item{Status: st, ReblogOfID: ref.ReblogOfID, Reblog: loaded[ref.ReblogOfID],
				Favourited: ref.Favourited, Reblogged: ref.Reblogged}
			if ref.ReblogOfID != 0 && it.Reblog == nil {
				continue
			}
			out := s.item(ctx, it)
			target := out
			if out.Reblog != nil {
				target = out.Reblog
			}
			out.Bookmarked, target.Bookmarked = ref.Bookmarked, ref.Bookmarked // as item does the other flags
			// Pins are the viewer's own statuses; others have no pinned flag.
			if ref.Pinned {
				target.Pinned = &ref.Pinned
			}
			b, err := json.Marshal(out)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			parts[i] = b
			if !ref.Favourited && !ref.Reblogged && !ref.Bookmarked && !ref.Pinned {
				s.rendered.put(ref.ID, b, now)
			}
		}
	}
	size := 2
	for _, b := range parts {
		size += len(b) + 1
	}
	bp, _ := s.rendered.pages.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer s.rendered.pages.Put(bp)
	out := slices.Grow((*bp)[:0], size+1)
	out = append(out, '[')
	n := 0
	for _, b := range parts {
		if b == nil {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
		n++
	}
	out = append(out, ']', '\n')
	if len(refs) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, r.URL.Query(), refs[len(refs)-1].ID, refs[0].ID)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	*bp = out
}
