package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// ListStore keeps a person's lists of accounts and reads their timelines.
type ListStore interface {
	Lists(ctx context.Context, owner int64) ([]starling.List, error)
	ListByID(ctx context.Context, owner, id int64) (*starling.List, error)
	CreateList(ctx context.Context, l *starling.List) error
	UpdateList(ctx context.Context, l *starling.List) error
	DeleteList(ctx context.Context, owner, id int64) error
	ListAccounts(ctx context.Context, listID int64, p starling.Page) ([]starling.ListedAccount, error)
	AddListAccounts(ctx context.Context, owner, listID int64, accounts []int64) error
	RemoveListAccounts(ctx context.Context, listID int64, accounts []int64) error
	ListsWithAccount(ctx context.Context, owner, accountID int64) ([]starling.List, error)
	ListTimeline(ctx context.Context, l *starling.List, p starling.Page) ([]*starling.Item, error)
	ExclusiveListMembers(ctx context.Context, owner int64) ([]int64, error)
	ListsShowing(ctx context.Context, statusID int64, lists []int64) ([]int64, error)
}

// List is Mastodon's List entity.
type List struct {
	ID            string `json:"id"`
	Title         string `json:"title"`
	RepliesPolicy string `json:"replies_policy"`
	Exclusive     bool   `json:"exclusive"`
}

func renderList(l *starling.List) List {
	return List{ID: id(l.ID), Title: l.Title, RepliesPolicy: l.RepliesPolicy, Exclusive: l.Exclusive}
}

// maxListTitle bounds a list's title (Mastodon has none; 256 keeps a
// client's sidebar sane and the row small).
const maxListTitle = 256

// listRoutes are the lists endpoints; r authenticates.
func (s *Server) listRoutes(r chi.Router) {
	r.Get("/v1/lists", s.scoped("read:lists", s.lists))
	r.Post("/v1/lists", s.scoped("write:lists", s.createList))
	r.Get("/v1/lists/{id}", s.scoped("read:lists", s.withList(s.getList)))
	r.Put("/v1/lists/{id}", s.scoped("write:lists", s.withList(s.updateList)))
	r.Delete("/v1/lists/{id}", s.scoped("write:lists", s.withList(s.deleteList)))
	r.Get("/v1/lists/{id}/accounts", s.scoped("read:lists", s.withList(s.listAccounts)))
	r.Post("/v1/lists/{id}/accounts", s.scoped("write:lists", s.withList(s.changeListAccounts(true))))
	r.Delete("/v1/lists/{id}/accounts", s.scoped("write:lists", s.withList(s.changeListAccounts(false))))
	r.Get("/v1/accounts/{id}/lists", s.scoped("read:lists", s.accountLists))
	r.Get("/v1/timelines/list/{id}", s.scoped("read:lists", s.withList(s.listTimeline)))
}

type listHandler func(http.ResponseWriter, *http.Request, *starling.Account, *starling.List)

// withList loads the viewer's list named in the path; another's list is
// not found, as on Mastodon.
func (s *Server) withList(h listHandler) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		n, err := pathID(r) // filters.go
		var l *starling.List
		if err == nil {
			l, err = s.Store.ListByID(r.Context(), me.ID, n)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, me, l)
	}
}

// lists is GET /api/v1/lists.
func (s *Server) lists(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	all, err := s.Store.Lists(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]List, 0, len(all))
	for i := range all {
		out = append(out, renderList(&all[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getList(w http.ResponseWriter, r *http.Request, _ *starling.Account, l *starling.List) {
	writeJSON(w, http.StatusOK, renderList(l))
}

// readList applies the title, replies_policy and exclusive parameters that
// were sent to l; it returns Mastodon's validation message, or "".
func readList(r *http.Request, l *starling.List) (string, error) {
	v, err := bodyParams(r)
	if err != nil {
		return "", err
	}
	if _, ok := v["title"]; ok || l.ID == 0 {
		l.Title = strings.TrimSpace(v.Get("title"))
	}
	if p := v.Get("replies_policy"); p != "" {
		l.RepliesPolicy = p
	}
	if _, ok := v["exclusive"]; ok {
		l.Exclusive = boolParam(v, "exclusive")
	}
	switch {
	case l.Title == "":
		return "Title can't be blank", nil
	case utf8.RuneCountInString(l.Title) > maxListTitle:
		return "Title is too long", nil
	case l.RepliesPolicy != starling.RepliesFollowed && l.RepliesPolicy != starling.RepliesList && l.RepliesPolicy != starling.RepliesNone:
		return "Replies policy is not included in the list", nil
	}
	return "", nil
}

// createList is POST /api/v1/lists.
func (s *Server) createList(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	l := &starling.List{AccountID: me.ID, RepliesPolicy: starling.RepliesList}
	s.saveList(w, r, l, s.Store.CreateList)
}

// updateList is PUT /api/v1/lists/:id: what is not sent stays.
func (s *Server) updateList(w http.ResponseWriter, r *http.Request, _ *starling.Account, l *starling.List) {
	s.saveList(w, r, l, s.Store.UpdateList)
}

func (s *Server) saveList(w http.ResponseWriter, r *http.Request, l *starling.List, save func(context.Context, *starling.List) error) {
	msg, err := readList(r, l)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+msg)
		return
	}
	if err := save(r.Context(), l); err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(l.AccountID) // exclusivity may have changed
	writeJSON(w, http.StatusOK, renderList(l))
}

// deleteList is DELETE /api/v1/lists/:id.
func (s *Server) deleteList(w http.ResponseWriter, r *http.Request, me *starling.Account, l *starling.List) {
	if err := s.Store.DeleteList(r.Context(), me.ID, l.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, map[string]any{})
}

// listAccounts is GET /api/v1/lists/:id/accounts, paged; limit=0 asks
// for all the members at once, as on Mastodon (clients use it to edit a
// list).
func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, _ *starling.Account, l *starling.List) {
	if r.URL.Query().Get("limit") == "0" {
		all, err := s.Store.ListAccounts(r.Context(), l.ID, starling.Page{})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := make([]*Account, 0, len(all))
		for _, e := range all {
			out = append(out, s.accountCache.get(r.Context(), s, e.Account))
		}
		writeJSONOnce(w, out)
		return
	}
	s.accountPage(w, r, func(ctx context.Context, p starling.Page) ([]starling.ListedAccount, error) {
		return s.Store.ListAccounts(ctx, l.ID, p)
	})
}

// changeListAccounts serves POST and DELETE /api/v1/lists/:id/accounts
// with account_ids[]: every account must exist (404, as Mastodon's
// Account.find); adding one the viewer does not follow is 422.
func (s *Server) changeListAccounts(add bool) listHandler {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account, l *starling.List) {
		v, err := bodyParams(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		list, err := ids(v, "account_ids")
		if err != nil {
			writeError(w, http.StatusNotFound, "Record not found")
			return
		}
		for _, n := range list {
			if _, err := s.Store.AccountByID(r.Context(), n); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if len(list) > 0 {
			if add {
				err = s.Store.AddListAccounts(r.Context(), me.ID, l.ID, list)
			} else {
				err = s.Store.RemoveListAccounts(r.Context(), l.ID, list)
			}
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.filters.forget(me.ID) // exclusive lists' members may have changed
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

// accountLists is GET /api/v1/accounts/:id/lists: the viewer's lists that
// have the account.
func (s *Server) accountLists(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	a, err := s.accountParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	all, err := s.Store.ListsWithAccount(r.Context(), me.ID, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]List, 0, len(all))
	for i := range all {
		out = append(out, renderList(&all[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// listTimeline is GET /api/v1/timelines/list/:id, paged as the home
// timeline and filtered in the home context, as Mastodon does.
func (s *Server) listTimeline(w http.ResponseWriter, r *http.Request, _ *starling.Account, l *starling.List) {
	r = r.WithContext(withFilterContext(r.Context(), starling.FilterHome))
	s.timelinePage(w, r, func(ctx context.Context, p starling.Page) ([]*starling.Item, error) {
		return s.Store.ListTimeline(ctx, l, p)
	})
}

// streamArg is the argument of a stream: a list stream's is the list id,
// sent as list (Mastodon's parameter), the others' the tag.
func streamArg(stream, tag, list string) string {
	if stream == "list" {
		return list
	}
	return tag
}

// checkListStream refuses a list stream of a list that is not a's.
func (s *Server) checkListStream(ctx context.Context, a *starling.Account, name string) error {
	rest, ok := strings.CutPrefix(name, "list:")
	if !ok {
		return nil
	}
	n, _ := idParam(rest)
	if a == nil {
		return starling.ErrNotFound
	}
	_, err := s.Store.ListByID(ctx, a.ID, n)
	return err
}

// listsShowing returns which of the lists the clients stream show the
// status, in one query.
func (s *Server) listsShowing(ctx context.Context, statusID int64, clients []*streamClient) map[int64]bool {
	var want []int64
	for _, c := range clients {
		if c.account == nil {
			continue
		}
		for _, name := range c.names() {
			if rest, ok := strings.CutPrefix(name, "list:"); ok {
				if n, ok := idParam(rest); ok {
					want = append(want, n)
				}
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	got, err := s.Store.ListsShowing(ctx, statusID, want)
	if err != nil {
		s.Logger.Warn("streaming: lists showing a status", "status_id", statusID, "error", err)
		return nil
	}
	out := make(map[int64]bool, len(got))
	for _, n := range got {
		out[n] = true
	}
	return out
}

// lists returns the list streams of c that show a status (inList).
func (c *streamClient) lists(inList map[int64]bool) []string {
	if len(inList) == 0 {
		return nil
	}
	var out []string
	for _, name := range c.names() {
		if rest, ok := strings.CutPrefix(name, "list:"); ok {
			if n, _ := idParam(rest); inList[n] {
				out = append(out, name)
			}
		}
	}
	return out
}

// bodyParams reads a request's parameters as params does, also from the
// body of a DELETE (DELETE /api/v1/lists/:id/accounts sends account_ids
// there), which net/http's form parsing leaves unread.
func bodyParams(r *http.Request) (url.Values, error) {
	pairs, err := orderedParams(r) // filter_params.go
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	for _, p := range pairs {
		v[p[0]] = append(v[p[0]], p[1])
	}
	return v, checkValues(v)
}
