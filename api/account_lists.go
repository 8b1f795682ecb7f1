package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/federation"
)

// AccountListStore reads lists of accounts and narrowed account statuses.
type AccountListStore interface {
	AccountList(ctx context.Context, list starling.AccountList, accountID int64, p starling.Page) ([]starling.ListedAccount, error)
	SearchAccounts(ctx context.Context, viewer int64, q string, following bool, offset, limit int) ([]*starling.Account, error)
	FilteredAccountStatuses(ctx context.Context, viewer, accountID int64, f starling.StatusFilter, p starling.Page) ([]*starling.Item, error)
}

// accountListRoutes are the lists of accounts; r authenticates.
func (s *Server) accountListRoutes(r chi.Router) {
	r.Get("/v1/accounts/search", s.scoped("read:accounts", s.searchAccounts))
	r.Get("/v1/accounts/{id}/followers", s.scoped("read:accounts", s.accountRelations(starling.ListFollowers)))
	r.Get("/v1/accounts/{id}/following", s.scoped("read:accounts", s.accountRelations(starling.ListFollowing)))
	r.Get("/v1/mutes", s.scoped("read:mutes", s.ownList(starling.ListMutes)))
	r.Get("/v1/blocks", s.scoped("read:blocks", s.ownList(starling.ListBlocks)))
	r.Get("/v1/follow_requests", s.scoped("read:follows", s.ownList(starling.ListFollowRequests)))
	r.Post("/v1/follow_requests/{id}/authorize", s.scoped("write:follows", s.accountAction(Interactions.AuthorizeFollow)))
	r.Post("/v1/follow_requests/{id}/reject", s.scoped("write:follows", s.accountAction(Interactions.RejectFollow)))
}

// accountRelations serves /api/v1/accounts/:id/followers and following.
func (s *Server) accountRelations(list starling.AccountList) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
		a, err := s.accountParam(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.accountPage(w, r, func(ctx context.Context, p starling.Page) ([]starling.ListedAccount, error) {
			return s.Store.AccountList(ctx, list, a.ID, p)
		})
	}
}

// ownList serves the viewer's own lists: mutes, blocks, follow requests.
func (s *Server) ownList(list starling.AccountList) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		s.accountPage(w, r, func(ctx context.Context, p starling.Page) ([]starling.ListedAccount, error) {
			return s.Store.AccountList(ctx, list, me.ID, p)
		})
	}
}

// accountPage answers a page of accounts with Link headers over the list's cursor.
func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, read func(context.Context, starling.Page) ([]starling.ListedAccount, error)) {
	page, ok := readPage(s, w, r, read)
	if !ok {
		return
	}
	out := make([]*Account, 0, len(page))
	for _, e := range page {
		out = append(out, s.accountCache.get(r.Context(), s, e.Account))
	}
	if len(page) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, r.URL.Query(), page[len(page)-1].Cursor, page[0].Cursor)
	}
	writeJSONOnce(w, out)
}

// searchAccounts is GET /api/v1/accounts/search: a prefix of a username or
// display name among known accounts, or with resolve an acct looked up by
// WebFinger.
func (s *Server) searchAccounts(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	q := r.URL.Query()
	query := strings.TrimPrefix(strings.TrimSpace(q.Get("q")), "@")
	if query == "" {
		writeError(w, http.StatusBadRequest, "q is required")
		return
	}
	limit, offset := 40, 0
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, 80)
	}
	if o, err := strconv.Atoi(q.Get("offset")); err == nil && o > 0 {
		offset = o
	}
	out := []*Account{}
	if user, host := splitAcct(query); host != "" && user != "" && !strings.EqualFold(host, s.Site.Host) {
		a, err := s.Store.AccountByAcct(r.Context(), user, host)
		if err != nil && boolParam(q, "resolve") {
			a, err = s.Resolver.WebFinger(r.Context(), user, host)
		}
		if err == nil {
			out = append(out, s.account(r.Context(), a))
		} else {
			s.Logger.Info("account search: not found", "q", query, "error", err)
		}
		writeJSON(w, http.StatusOK, out)
		return
	} else if host != "" {
		query = user
	}
	list, err := s.Store.SearchAccounts(r.Context(), me.ID, query, boolParam(q, "following"), offset, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, a := range list {
		if a.Local() && a.Username == federation.InstanceActorUsername {
			continue
		}
		out = append(out, s.accountCache.get(r.Context(), s, a))
	}
	writeJSON(w, http.StatusOK, out)
}

// statusFilter reads /api/v1/accounts/:id/statuses's narrowing parameters.
func statusFilter(r *http.Request) starling.StatusFilter {
	q := r.URL.Query()
	return starling.StatusFilter{
		ExcludeReplies: boolParam(q, "exclude_replies"),
		ExcludeReblogs: boolParam(q, "exclude_reblogs"),
		OnlyMedia:      boolParam(q, "only_media"),
		Pinned:         boolParam(q, "pinned"),
		Tagged:         strings.ToLower(strings.TrimPrefix(q.Get("tagged"), "#")),
	}
}
