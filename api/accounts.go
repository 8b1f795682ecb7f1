package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/federation"
)

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	a, err := s.accountParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.account(r.Context(), a))
}

func (s *Server) accountParam(r *http.Request) (*starling.Account, error) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok || n == 0 {
		return nil, starling.ErrNotFound
	}
	a, err := s.Store.AccountByID(r.Context(), n)
	if err == nil && a.Username == federation.InstanceActorUsername && a.Local() {
		return nil, starling.ErrNotFound
	}
	return a, err
}

// lookupAccount finds an account by acct without fetching anything: local
// names and remote accounts already known, as on Mastodon.
func (s *Server) lookupAccount(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	acct := r.URL.Query().Get("acct")
	if acct == "" {
		writeError(w, http.StatusBadRequest, "acct is required")
		return
	}
	user, host := splitAcct(acct)
	if strings.EqualFold(host, s.Site.Host) {
		host = ""
	}
	a, err := s.Store.AccountByAcct(r.Context(), user, host)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.account(r.Context(), a))
}

// splitAcct splits "user", "@user", "user@host" or "@user@host".
func splitAcct(acct string) (user, host string) {
	acct = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(acct), "acct:"), "@")
	user, host, _ = strings.Cut(acct, "@")
	return user, host
}

func (s *Server) follow(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	a, err := s.accountParam(r)
	if err == nil {
		_, err = s.Outbox.Follow(r.Context(), me, a)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeRelationship(w, r, me, a)
}

func (s *Server) unfollow(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	a, err := s.accountParam(r)
	if err == nil {
		err = s.Outbox.Unfollow(r.Context(), me, a)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeRelationship(w, r, me, a)
}

func (s *Server) writeRelationship(w http.ResponseWriter, r *http.Request, me, a *starling.Account) {
	rels, err := s.relationshipsOf(r.Context(), me, []int64{a.ID})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rels[0])
}

func (s *Server) relationships(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	list, err := ids(r.URL.Query(), "id")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(list) > 80 {
		writeError(w, http.StatusBadRequest, "at most 80 ids")
		return
	}
	rels, err := s.relationshipsOf(r.Context(), me, list)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rels)
}

func (s *Server) relationshipsOf(ctx context.Context, me *starling.Account, list []int64) ([]Relationship, error) {
	rels, err := s.Store.Relationships(ctx, me.ID, list)
	if err != nil {
		return nil, err
	}
	out := make([]Relationship, len(rels))
	for i, rel := range rels {
		out[i] = Relationship{
			ID:                  id(rel.ID),
			Following:           rel.Following,
			ShowingReblogs:      rel.Following || rel.Requested,
			FollowedBy:          rel.FollowedBy,
			Requested:           rel.Requested,
			RequestedBy:         rel.RequestedBy,
			Blocking:            rel.Blocking,
			BlockedBy:           rel.BlockedBy,
			Muting:              rel.Muting,
			MutingNotifications: rel.Muting,
			DomainBlocking:      rel.DomainBlocking,
		}
	}
	return out, nil
}

// search implements /api/v2/search for accounts: a user@host query with
// resolve=true is resolved by WebFinger.
func (s *Server) search(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("q"))
	if query == "" {
		writeError(w, http.StatusBadRequest, "q is required")
		return
	}
	result := map[string]any{"accounts": []*Account{}, "statuses": []any{}, "hashtags": []any{}}
	typ := q.Get("type")
	if typ == "" || typ == "accounts" {
		user, host := splitAcct(query)
		var a *starling.Account
		var err error
		switch {
		case user == "":
		case host == "" || strings.EqualFold(host, s.Site.Host):
			a, err = s.Store.AccountByAcct(r.Context(), user, "")
		case boolParam(q, "resolve"):
			a, err = s.Resolver.WebFinger(r.Context(), user, host)
		default:
			a, err = s.Store.AccountByAcct(r.Context(), user, host)
		}
		switch {
		case err == nil && a != nil:
			result["accounts"] = []*Account{s.account(r.Context(), a)}
		case err != nil && !errors.Is(err, starling.ErrNotFound):
			// A remote that cannot be reached is an empty result, as on
			// Mastodon, not an error of ours.
			s.Logger.Info("search: could not resolve", "q", query, "error", err)
		}
	}
	writeJSON(w, http.StatusOK, result)
}
