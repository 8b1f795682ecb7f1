package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/starling-social/starling"
)

// Interactions are the local actions on statuses and accounts that feeds
// depend on; the outbox does them.
type Interactions interface {
	Reblog(ctx context.Context, booster *starling.Account, st *starling.Status) (*starling.Status, error)
	Unreblog(ctx context.Context, booster *starling.Account, st *starling.Status) error
	Favourite(ctx context.Context, who *starling.Account, st *starling.Status) error
	Unfavourite(ctx context.Context, who *starling.Account, st *starling.Status) error
	Block(ctx context.Context, who, target *starling.Account) error
	Unblock(ctx context.Context, who, target *starling.Account) error
	Mute(ctx context.Context, who, target *starling.Account) error
	Unmute(ctx context.Context, who, target *starling.Account) error
	BlockDomain(ctx context.Context, who *starling.Account, domain string) error
	UnblockDomain(ctx context.Context, who *starling.Account, domain string) error
	// A locked account's answers to follow requests; starling.ErrNotFound
	// when no request is pending.
	AuthorizeFollow(ctx context.Context, followee, follower *starling.Account) error
	RejectFollow(ctx context.Context, followee, follower *starling.Account) error
}

// statusAction serves the POST /api/v1/statuses/{id}/<action> family and
// answers with the status as the caller now sees it. act is a method
// expression (Interactions.Favourite), applied to s.Interactions when a
// request comes.
func (s *Server) statusAction(act func(i Interactions, ctx context.Context, me *starling.Account, st *starling.Status) error) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		st, err := s.visibleStatus(r, me)
		if err == nil {
			err = act(s.Interactions, r.Context(), me, st)
		}
		var it *starling.Item
		if err == nil {
			it, err = s.Store.ItemByID(r.Context(), me.ID, st.ID)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := s.item(r.Context(), it)
		s.markViewer(r.Context(), me, out)
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) reblog(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	st, err := s.visibleStatus(r, me)
	var boost *starling.Status
	if err == nil {
		boost, err = s.Interactions.Reblog(r.Context(), me, st)
	}
	var it *starling.Item
	if err == nil {
		it, err = s.Store.ItemByID(r.Context(), me.ID, boost.ID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := s.item(r.Context(), it)
	s.markViewer(r.Context(), me, out)
	writeJSON(w, http.StatusOK, out)
}

// accountAction serves POST /api/v1/accounts/{id}/<action> and answers with
// the relationship; act is a method expression, as for statusAction.
func (s *Server) accountAction(act func(i Interactions, ctx context.Context, me, a *starling.Account) error) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		a, err := s.accountParam(r)
		if err == nil {
			err = act(s.Interactions, r.Context(), me, a)
		}
		var rels []Relationship
		if err == nil {
			rels, err = s.relationshipsOf(r.Context(), me, []int64{a.ID})
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rels[0])
	}
}

func (s *Server) domainBlocks(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	list, err := s.Store.DomainBlocks(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []string{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) changeDomainBlock(block bool) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		v, err := params(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		domain := strings.ToLower(strings.TrimSpace(v.Get("domain")))
		if domain == "" || strings.ContainsAny(domain, "/@ ") {
			writeError(w, http.StatusUnprocessableEntity, "Validation failed: domain is required")
			return
		}
		if block {
			err = s.Interactions.BlockDomain(r.Context(), me, domain)
		} else {
			err = s.Interactions.UnblockDomain(r.Context(), me, domain)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	}
}
