package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// ClientStore is the per-user state Mastodon clients keep here: read
// markers, bookmarks, pins, and the reads of threads and lists.
type ClientStore interface {
	InstanceStore
	AccountListStore // account_lists.go
	ListStore        // lists.go
	FilterStore      // filters.go
	TagStore         // tags.go
	Markers(ctx context.Context, accountID int64) (map[string]starling.Marker, error)
	SaveMarker(ctx context.Context, accountID int64, timeline string, lastReadID int64) (starling.Marker, error)
	SetBookmark(ctx context.Context, accountID, statusID int64, on bool) error
	SetPin(ctx context.Context, accountID, statusID int64, on bool) error
	PinCount(ctx context.Context, accountID int64) (int, error)
	ViewerFlags(ctx context.Context, viewer int64, ids []int64) (map[int64]starling.ViewerFlags, error)
	Bookmarks(ctx context.Context, viewer int64, p starling.Page) ([]starling.MarkedItem, error)
	FavouritedStatuses(ctx context.Context, viewer int64, p starling.Page) ([]starling.MarkedItem, error)
	PinnedStatuses(ctx context.Context, viewer, accountID int64) ([]*starling.Item, error)
	StatusAncestors(ctx context.Context, statusID int64, limit int) ([]int64, error)
	StatusDescendants(ctx context.Context, statusID int64, limit int) ([]int64, error)
	StatusActors(ctx context.Context, statusID int64, favourites bool, p starling.Page) ([]starling.ListedAccount, error)
}

// clientRoutes are the endpoints clients call right after login (issue
// 11); r authenticates.
func (s *Server) clientRoutes(r chi.Router) {
	r.Get("/v1/preferences", s.scoped("read:accounts", s.preferences))
	r.Get("/v1/markers", s.scoped("read:statuses", s.markers))
	r.Post("/v1/markers", s.scoped("write:statuses", s.saveMarkers))
	r.Get("/v1/statuses/{id}/context", s.scoped("read:statuses", s.statusContext))
	r.Get("/v1/statuses/{id}/favourited_by", s.scoped("read:accounts", s.statusActors(true)))
	r.Get("/v1/statuses/{id}/reblogged_by", s.scoped("read:accounts", s.statusActors(false)))
	r.Post("/v1/statuses/{id}/bookmark", s.scoped("write:bookmarks", s.bookmark(true)))
	r.Post("/v1/statuses/{id}/unbookmark", s.scoped("write:bookmarks", s.bookmark(false)))
	r.Post("/v1/statuses/{id}/pin", s.scoped("write:accounts", s.pin(true)))
	r.Post("/v1/statuses/{id}/unpin", s.scoped("write:accounts", s.pin(false)))
	r.Get("/v1/bookmarks", s.scoped("read:bookmarks", s.bookmarks))
	r.Get("/v1/favourites", s.scoped("read:favourites", s.favourites))
	s.accountListRoutes(r)  // account_lists.go
	s.listRoutes(r)         // lists.go
	s.filterRoutes(r)       // filters.go
	s.tagRoutes(r)          // tags.go
	s.conversationRoutes(r) // conversations.go
	s.mediaRoutes(r)        // media.go
	s.emptyRoutes(r)        // empty.go
}

var markerTimelines = []string{"home", "notifications"}

// Marker is Mastodon's Marker entity.
type Marker struct {
	LastReadID string `json:"last_read_id"`
	Version    int    `json:"version"`
	UpdatedAt  string `json:"updated_at"`
}

func renderMarkers(all map[string]starling.Marker, want func(string) bool) map[string]Marker {
	out := map[string]Marker{}
	for name, m := range all {
		if want(name) {
			out[name] = Marker{LastReadID: id(m.LastReadID), Version: m.Version, UpdatedAt: formatTime(m.UpdatedAt)}
		}
	}
	return out
}

// markers is GET /api/v1/markers?timeline[]=home&timeline[]=notifications.
func (s *Server) markers(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	all, err := s.Store.Markers(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	asked := append(q["timeline[]"], q["timeline"]...)
	writeJSON(w, http.StatusOK, renderMarkers(all, func(name string) bool {
		for _, a := range asked {
			if a == name {
				return true
			}
		}
		return false
	}))
}

// saveMarkers is POST /api/v1/markers with home[last_read_id] and/or
// notifications[last_read_id]; it answers with the markers it saved.
func (s *Server) saveMarkers(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	v, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	saved := map[string]starling.Marker{}
	for _, name := range markerTimelines {
		raw := v.Get(name + "[last_read_id]")
		if raw == "" {
			continue
		}
		n, ok := idParam(raw)
		if !ok {
			writeError(w, http.StatusUnprocessableEntity, "Validation failed: last_read_id must be an id")
			return
		}
		m, err := s.Store.SaveMarker(r.Context(), me.ID, name, n)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		saved[name] = m
	}
	writeJSON(w, http.StatusOK, renderMarkers(saved, func(string) bool { return true }))
}

// markViewer sets me's favourited, reblogged and bookmarked flags on
// rendered statuses, from the status a boost boosts onto both (as item
// does), and pinned on me's own. A failure leaves the flags as they are.
func (s *Server) markViewer(ctx context.Context, me *starling.Account, list ...*Status) {
	if me == nil || len(list) == 0 {
		return
	}
	target := func(st *Status) *Status {
		if st.Reblog != nil {
			return st.Reblog
		}
		return st
	}
	want := make([]int64, 0, len(list))
	for _, st := range list {
		if n, ok := idParam(target(st).ID); ok {
			want = append(want, n)
		}
	}
	flags, err := s.Store.ViewerFlags(ctx, me.ID, want)
	if err != nil {
		s.Logger.Warn("viewer flags", "error", err)
		return
	}
	for _, st := range list {
		t := target(st)
		n, _ := idParam(t.ID)
		f := flags[n]
		st.Favourited, st.Reblogged, st.Bookmarked = f.Favourited, f.Reblogged, f.Bookmarked
		t.Favourited, t.Reblogged, t.Bookmarked = f.Favourited, f.Reblogged, f.Bookmarked
		if t.Account != nil && t.Account.ID == id(me.ID) {
			pinned := f.Pinned
			t.Pinned = &pinned
		}
	}
}

// Context is Mastodon's Context entity.
type Context struct {
	Ancestors   []*Status `json:"ancestors"`
	Descendants []*Status `json:"descendants"`
}

// Thread bounds, as Mastodon's (40 ancestors, 4,096 descendants; fewer here).
const (
	maxAncestors   = 40
	maxDescendants = 200
)

// statusContext is GET /api/v1/statuses/:id/context: the known statuses
// of the thread around one, those the viewer may see.
func (s *Server) statusContext(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	st, err := s.visibleStatus(r, me)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	up, err := s.Store.StatusAncestors(ctx, st.ID, maxAncestors)
	var down []int64
	if err == nil {
		down, err = s.Store.StatusDescendants(ctx, st.ID, maxDescendants)
	}
	var loaded map[int64]*starling.Status
	if err == nil {
		loaded, err = s.Store.StatusesByIDs(ctx, append(append([]int64{}, up...), down...))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := Context{Ancestors: []*Status{}, Descendants: []*Status{}}
	accounts := map[int64]*Account{}
	pick := func(ids []int64) []*Status {
		list := []*Status{}
		for _, n := range ids {
			if x := loaded[n]; x != nil && s.canSee(r, me, x) {
				list = append(list, s.status(ctx, x, accounts))
			}
		}
		return list
	}
	out.Ancestors, out.Descendants = pick(up), pick(down)
	out.Ancestors = s.applyFilters(ctx, me, starling.FilterThread, out.Ancestors) // filter_apply.go
	out.Descendants = s.applyFilters(ctx, me, starling.FilterThread, out.Descendants)
	s.markViewer(ctx, me, append(append([]*Status{}, out.Ancestors...), out.Descendants...)...)
	writeJSON(w, http.StatusOK, out)
}

// statusActors serves favourited_by and reblogged_by.
func (s *Server) statusActors(favourites bool) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		st, err := s.visibleStatus(r, me)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.accountPage(w, r, func(ctx context.Context, p starling.Page) ([]starling.ListedAccount, error) {
			return s.Store.StatusActors(ctx, st.ID, favourites, p)
		})
	}
}

// bookmark serves POST /api/v1/statuses/:id/(un)bookmark.
func (s *Server) bookmark(on bool) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		st, err := s.visibleStatus(r, me)
		if err == nil {
			err = s.Store.SetBookmark(r.Context(), me.ID, st.ID, on)
		}
		s.answerStatus(w, r, me, st, err)
	}
}

// pin serves POST /api/v1/statuses/:id/(un)pin. As Mastodon's
// StatusPinValidator, only one's own statuses that are not boosts or
// direct, at most maxPinnedStatuses; unpinning what is not pinned is no
// error.
func (s *Server) pin(on bool) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		st, err := s.visibleStatus(r, me)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if on {
			if why := s.pinRefusal(r, me, st); why != "" {
				writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+why)
				return
			}
		}
		err = s.Store.SetPin(r.Context(), me.ID, st.ID, on)
		s.answerStatus(w, r, me, st, err)
	}
}

// pinRefusal says why me may not pin st, in Mastodon's words, or "".
func (s *Server) pinRefusal(r *http.Request, me *starling.Account, st *starling.Status) string {
	if st.AccountID != me.ID {
		return "Someone else's post cannot be pinned"
	}
	if st.Visibility == starling.VisibilityDirect {
		return "Posts that are only visible to mentioned users cannot be pinned"
	}
	if it, err := s.Store.ItemByID(r.Context(), me.ID, st.ID); err == nil && it.ReblogOfID != 0 {
		return "A boost cannot be pinned"
	}
	if n, err := s.Store.PinCount(r.Context(), me.ID); err == nil && n >= maxPinnedStatuses {
		return "You have already pinned the maximum number of posts"
	}
	return ""
}

// answerStatus writes st as me now sees it, or err.
func (s *Server) answerStatus(w http.ResponseWriter, r *http.Request, me *starling.Account, st *starling.Status, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := s.status(r.Context(), st, nil)
	s.markViewer(r.Context(), me, out)
	s.applyFilters(r.Context(), me, "", []*Status{out}) // filter_apply.go: marked, never hidden when asked for by id
	writeJSON(w, http.StatusOK, out)
}

// bookmarks is GET /api/v1/bookmarks.
func (s *Server) bookmarks(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	s.markedPage(w, r, me, func(ctx context.Context, p starling.Page) ([]starling.MarkedItem, error) {
		return s.Store.Bookmarks(ctx, me.ID, p)
	})
}

// favourites is GET /api/v1/favourites.
func (s *Server) favourites(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	s.markedPage(w, r, me, func(ctx context.Context, p starling.Page) ([]starling.MarkedItem, error) {
		return s.Store.FavouritedStatuses(ctx, me.ID, p)
	})
}

// markedPage answers a page of the statuses me marked, with me's flags
// and Link headers over the marks.
func (s *Server) markedPage(w http.ResponseWriter, r *http.Request, me *starling.Account, read func(context.Context, starling.Page) ([]starling.MarkedItem, error)) {
	page, ok := readPage(s, w, r, read)
	if !ok {
		return
	}
	out := make([]*Status, 0, len(page))
	for _, it := range page {
		out = append(out, s.item(r.Context(), it.Item))
	}
	s.markViewer(r.Context(), me, out...)
	if len(page) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, r.URL.Query(), page[len(page)-1].Cursor, page[0].Cursor)
	}
	writeJSONOnce(w, out)
}
