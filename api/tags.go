package api

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// TagStore keeps the hashtags people follow.
type TagStore interface {
	FollowTag(ctx context.Context, accountID int64, name string) error
	UnfollowTag(ctx context.Context, accountID int64, name string) error
	FollowsTag(ctx context.Context, accountID int64, name string) (bool, error)
	FollowedTags(ctx context.Context, accountID int64, p starling.Page) ([]starling.FollowedTag, error)
}

// Tag is Mastodon's Tag entity. Starling keeps no usage history.
type Tag struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	History   []any  `json:"history"`
	Following bool   `json:"following"`
}

// tagNameRe is a hashtag's name as the timeline builder extracts it:
// letters, digits and underscores, not digits only.
var tagNameRe = regexp.MustCompile(`^[\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*$`)

// tagRoutes are the hashtag endpoints; r authenticates.
func (s *Server) tagRoutes(r chi.Router) {
	r.Get("/v1/tags/{name}", s.scoped("read", s.withTag(s.tag)))
	r.Post("/v1/tags/{name}/follow", s.scoped("write:follows", s.withTag(s.followTag(true))))
	r.Post("/v1/tags/{name}/unfollow", s.scoped("write:follows", s.withTag(s.followTag(false))))
	r.Get("/v1/followed_tags", s.scoped("read:follows", s.followedTags))
}

// withTag reads the hashtag named in the path (a leading '#' is allowed);
// what cannot be a hashtag is not found.
func (s *Server) withTag(h func(http.ResponseWriter, *http.Request, *starling.Account, string)) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		name := strings.TrimPrefix(chi.URLParam(r, "name"), "#")
		if len(name) > 100 || !tagNameRe.MatchString(name) {
			writeError(w, http.StatusNotFound, "Record not found")
			return
		}
		h(w, r, me, name)
	}
}

func (s *Server) renderTag(name string, following bool) Tag {
	lower := strings.ToLower(name)
	return Tag{ID: lower, Name: name, URL: s.Site.Base() + "/tags/" + url.PathEscape(lower), History: []any{}, Following: following}
}

// tag is GET /api/v1/tags/:name: any valid hashtag, known here or not, as
// Mastodon answers.
func (s *Server) tag(w http.ResponseWriter, r *http.Request, me *starling.Account, name string) {
	following, err := s.Store.FollowsTag(r.Context(), me.ID, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.renderTag(name, following))
}

// followTag serves POST /api/v1/tags/:name/follow and unfollow; either is
// idempotent.
func (s *Server) followTag(on bool) func(http.ResponseWriter, *http.Request, *starling.Account, string) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account, name string) {
		var err error
		if on {
			err = s.Store.FollowTag(r.Context(), me.ID, name)
		} else {
			err = s.Store.UnfollowTag(r.Context(), me.ID, name)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, s.renderTag(name, on))
	}
}

// followedTags is GET /api/v1/followed_tags, the latest followed first,
// with Link headers.
func (s *Server) followedTags(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	page, ok := readPage(s, w, r, func(ctx context.Context, p starling.Page) ([]starling.FollowedTag, error) {
		return s.Store.FollowedTags(ctx, me.ID, p)
	})
	if !ok {
		return
	}
	out := make([]Tag, 0, len(page))
	for _, t := range page {
		out = append(out, s.renderTag(t.Name, true))
	}
	if len(page) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, r.URL.Query(), page[len(page)-1].Cursor, page[0].Cursor)
	}
	writeJSONOnce(w, out)
}
