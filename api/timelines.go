package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/starling-social/starling"
)

// TimelineStore is what timelines, notifications and streaming read.
type TimelineStore interface {
	PublicTimeline(ctx context.Context, local, remote bool, p starling.Page) ([]*starling.Item, error)
	TagTimeline(ctx context.Context, tag string, local bool, p starling.Page) ([]*starling.Item, error)
	AccountStatuses(ctx context.Context, viewer, accountID int64, p starling.Page) ([]*starling.Item, error)
	ItemByID(ctx context.Context, viewer, statusID int64) (*starling.Item, error)
	FeedMembers(ctx context.Context, statusID int64, accounts []int64) ([]int64, error)
	Notifications(ctx context.Context, accountID int64, p starling.Page, f starling.NotificationFilter) ([]*starling.Notification, error)
	NotificationByID(ctx context.Context, accountID, id int64) (*starling.Notification, error)
	DismissNotification(ctx context.Context, accountID, id int64) error
	ClearNotifications(ctx context.Context, accountID int64) error
	UnreadNotifications(ctx context.Context, accountID int64, limit int) (int, error)
	FiltersOf(ctx context.Context, viewer int64, target *starling.Account) (starling.Filters, error)
	DomainBlocks(ctx context.Context, accountID int64) ([]string, error)
	HomeFeedRefsStore // render_cache.go
}

// Page sizes, as on Mastodon.
const (
	defaultPageSize = 20
	maxPageSize     = 40
)

func pageParams(q url.Values) (starling.Page, error) {
	var p starling.Page
	var ok bool
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"max_id", &p.MaxID}, {"since_id", &p.SinceID}, {"min_id", &p.MinID}} {
		if *f.dst, ok = idParam(q.Get(f.name)); !ok {
			return p, fmt.Errorf("%s must be an id", f.name)
		}
	}
	p.Limit = defaultPageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return p, fmt.Errorf("limit must be a positive number")
		}
		p.Limit = min(n, maxPageSize)
	}
	return p, nil
}

// readPage reads the page a request's max_id, since_id, min_id and limit
// ask for; on bad parameters or a failed read it has answered already.
func readPage[T any](s *Server, w http.ResponseWriter, r *http.Request, read func(context.Context, starling.Page) ([]T, error)) ([]T, bool) {
	p, err := pageParams(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	page, err := read(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return page, true
}

// timelinePage answers a timeline request: read decides which entries.
func (s *Server) timelinePage(w http.ResponseWriter, r *http.Request, read func(context.Context, starling.Page) ([]*starling.Item, error)) {
	page, ok := readPage(s, w, r, read)
	if !ok {
		return
	}
	out := make([]*Status, 0, len(page))
	for _, it := range page {
		out = append(out, s.item(r.Context(), it))
	}
	s.markViewer(r.Context(), viewer(r), out...)
	out = s.applyFilters(r.Context(), viewer(r), filterContextOf(r.Context()), out) // filter_apply.go
	if len(page) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, r.URL.Query(), page[len(page)-1].ID, page[0].ID)
	}
	writeJSONOnce(w, out)
}

// writeJSONOnce writes a 200 answer in one write with a Content-Length: a
// page of 40 statuses is some 50 KB, which writeJSON's streaming encoder
// would send in a dozen chunks (a dozen syscalls).
func writeJSONOnce(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// publicTimeline serves /api/v1/timelines/public (local, remote).
func (s *Server) publicTimeline(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	local, remote := boolParam(q, "local"), boolParam(q, "remote")
	s.timelinePage(w, r, func(ctx context.Context, p starling.Page) ([]*starling.Item, error) {
		return s.Store.PublicTimeline(s.viewerContext(r), local, remote, p)
	})
}

// tagTimeline serves /api/v1/timelines/tag/{hashtag}.
func (s *Server) tagTimeline(w http.ResponseWriter, r *http.Request) {
	tag := strings.ToLower(strings.TrimPrefix(chi.URLParam(r, "hashtag"), "#"))
	local := boolParam(r.URL.Query(), "local")
	s.timelinePage(w, r, func(ctx context.Context, p starling.Page) ([]*starling.Item, error) {
		return s.Store.TagTimeline(s.viewerContext(r), tag, local, p)
	})
}

// accountStatuses serves /api/v1/accounts/{id}/statuses.
func (s *Server) accountStatuses(w http.ResponseWriter, r *http.Request) {
	a, err := s.accountParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var viewerID int64
	if me := viewer(r); me != nil {
		viewerID = me.ID
	}
	f := statusFilter(r) // account_lists.go
	s.timelinePage(w, r, func(ctx context.Context, p starling.Page) ([]*starling.Item, error) {
		if f == (starling.StatusFilter{}) {
			return s.Store.AccountStatuses(ctx, viewerID, a.ID, p)
		}
		return s.Store.FilteredAccountStatuses(ctx, viewerID, a.ID, f, p)
	})
}

// viewer is the authenticated account of r, if any.
func viewer(r *http.Request) *starling.Account {
	if a, _ := r.Context().Value(authKey{}).(*auth); a != nil {
		return a.account
	}
	return nil
}

func (s *Server) viewerContext(r *http.Request) context.Context {
	if me := viewer(r); me != nil {
		return starling.WithViewer(r.Context(), me.ID)
	}
	return r.Context()
}

// optional runs h with or without a token; a token that is sent must be
// valid (authenticate already refused a bad one) and grant scope.
func (s *Server) optional(scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a, _ := r.Context().Value(authKey{}).(*auth); a != nil && !hasScope(a.scopes, scope) {
			writeError(w, http.StatusForbidden, "This action is outside the authorized scopes")
			return
		}
		h(w, r)
	}
}

// item renders a timeline entry: a status, or a boost wrapping the status
// it boosts, as Mastodon does.
func (s *Server) item(ctx context.Context, it *starling.Item) *Status {
	out := s.cachedStatus(ctx, it.Status)
	if it.Reblog != nil {
		inner := s.cachedStatus(ctx, it.Reblog)
		inner.Favourited, inner.Reblogged = it.Favourited, it.Reblogged
		out.Reblog = inner
		out.Content = ""
	}
	out.Favourited, out.Reblogged = it.Favourited, it.Reblogged
	return out
}

// cachedStatus renders st with its author from the account cache.
func (s *Server) cachedStatus(ctx context.Context, st *starling.Status) *Status {
	return s.status(ctx, st, map[int64]*Account{st.AccountID: s.accountCache.get(ctx, s, st.Account)})
}

// accountCache keeps rendered accounts for a few seconds. Rendering counts
// followers and statuses, which for an account with 100,000 followers is
// the most expensive part of a timeline page; Mastodon keeps these counts
// denormalised and eventually consistent too. The zero value is ready.
type accountCache struct {
	mu      sync.Mutex
	entries map[int64]cachedAccount
}

type cachedAccount struct {
	a       Account
	expires time.Time
}

const accountCacheTTL = 10 * time.Second

func (c *accountCache) get(ctx context.Context, s *Server, a *starling.Account) *Account {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[a.ID]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		out := e.a // a copy: callers may not share one another's
		return &out
	}
	rendered := s.account(ctx, a)
	c.mu.Lock()
	if c.entries == nil || len(c.entries) > 10_000 {
		c.entries = map[int64]cachedAccount{}
	}
	c.entries[a.ID] = cachedAccount{a: *rendered, expires: now.Add(accountCacheTTL)}
	c.mu.Unlock()
	return rendered
}

// setLink writes Mastodon's pagination Link header: next pages older
// entries (max_id of the last), prev newer ones (min_id of the first).
func setLink(w http.ResponseWriter, base string, q url.Values, oldest, newest int64) {
	link := func(key string, v int64) string {
		next := url.Values{}
		for k, vals := range q {
			if k != "max_id" && k != "min_id" && k != "since_id" {
				next[k] = vals
			}
		}
		next.Set(key, strconv.FormatInt(v, 10))
		return base + "?" + next.Encode()
	}
	w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="prev"`, link("max_id", oldest), link("min_id", newest)))
}
