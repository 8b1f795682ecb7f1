package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// emptyRoutes answers what clients ask for at start-up and Starling does
// not keep (filters, lists, trends, …): an empty list, as a Mastodon server
// with none of them would, so a client shows nothing rather than an error.
func (s *Server) emptyRoutes(r chi.Router) {
	for path, scope := range map[string]string{
		"/v1/filters":            "read:filters",
		"/v2/filters":            "read:filters",
		"/v1/lists":              "read:lists",
		"/v1/conversations":      "read:statuses",
		"/v2/suggestions":        "read",
		"/v1/announcements":      "read",
		"/v1/endorsements":       "read:accounts",
		"/v1/featured_tags":      "read:accounts",
		"/v1/followed_tags":      "read:follows",
		"/v1/scheduled_statuses": "read:statuses",
	} {
		r.Get(path, s.scoped(scope, emptyList))
	}
}

// publicEmptyRoutes are the empty answers that need no token.
func publicEmptyRoutes(r chi.Router) {
	for _, path := range []string{"/v1/trends/tags", "/v1/trends/statuses", "/v1/trends/links", "/v1/trends", "/v1/directory"} {
		r.Get(path, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, []any{}) })
	}
}

func emptyList(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	writeJSON(w, http.StatusOK, []any{})
}
