package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// emptyRoutes answers what clients ask for at start-up and Starling does
// not keep (trends, suggestions, …): an empty list, as a Mastodon server
// with none of them would, so a client shows nothing rather than an error.
func (s *Server) emptyRoutes(r chi.Router) {
	for path, scope := range map[string]string{
		"/v2/suggestions":        "read",
		"/v1/announcements":      "read",
		"/v1/endorsements":       "read:accounts",
		"/v1/featured_tags":      "read:accounts",
		"/v1/scheduled_statuses": "read:statuses",
	} {
		r.Get(path, s.scoped(scope, emptyList))
	}
	// A profile's extras: none kept, but the account must exist.
	for _, path := range []string{"/v1/accounts/{id}/featured_tags"} {
		r.Get(path, s.scoped("read:accounts", func(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
			if _, err := s.accountParam(r); err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, []any{})
		}))
	}
	r.Get("/v1/accounts/familiar_followers", s.scoped("read:follows", s.familiarFollowers))
}

// familiarFollowers is GET /api/v1/accounts/familiar_followers?id[]=…:
// for each account, none listed (Starling does not compute them yet).
func (s *Server) familiarFollowers(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	list, err := ids(r.URL.Query(), "id")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := make([]map[string]any, 0, len(list))
	for _, n := range list {
		out = append(out, map[string]any{"id": id(n), "accounts": []any{}})
	}
	writeJSON(w, http.StatusOK, out)
}

// publicEmptyRoutes are the empty answers that need no token.
func publicEmptyRoutes(r chi.Router) {
	for _, path := range []string{"/v1/trends/tags", "/v1/trends/statuses", "/v1/trends/links", "/v1/trends", "/v1/directory",
		"/v1/instance/rules", "/v1/instance/activity", "/v1/instance/domain_blocks", "/v1/instance/peers"} {
		r.Get(path, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, []any{}) })
	}
	r.Get("/v1/instance/extended_description", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"updated_at": "1970-01-01T00:00:00.000Z", "content": ""})
	})
	r.Get("/v1/instance/translation_languages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{})
	})
}

func emptyList(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	writeJSON(w, http.StatusOK, []any{})
}
