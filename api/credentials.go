package api

import (
	"cmp"
	"net/http"
	"regexp"
	"strings"

	"github.com/starling-social/starling"
)

// CredentialAccount is Mastodon's CredentialAccount: the account as its
// owner sees it, with the source of its profile and its role.
type CredentialAccount struct {
	*Account
	Source Source `json:"source"`
	Role   Role   `json:"role"`
}

// Source is Mastodon's Account::Source.
type Source struct {
	Privacy             string  `json:"privacy"`
	Sensitive           bool    `json:"sensitive"`
	Language            *string `json:"language"`
	Note                string  `json:"note"`
	Fields              []Field `json:"fields"`
	FollowRequestsCount int     `json:"follow_requests_count"`
	Indexable           bool    `json:"indexable"`
	HideCollections     bool    `json:"hide_collections"`
	Discoverable        bool    `json:"discoverable"`
}

// Role is Mastodon's Role; every Starling user has the base role,
// "everyone" (id -99 on Mastodon), with no permissions.
type Role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Color       string `json:"color"`
	Permissions string `json:"permissions"`
	Highlighted bool   `json:"highlighted"`
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

// plainNote is a profile note as text: paragraphs and line breaks as
// newlines, other tags dropped, entities of the five escaped characters
// undone.
func plainNote(html string) string {
	s := strings.NewReplacer("</p><p>", "\n\n", "<br>", "\n", "<br/>", "\n", "<br />", "\n").Replace(html)
	s = htmlTag.ReplaceAllString(s, "")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&amp;", "&").Replace(s)
}

func (s *Server) verifyCredentials(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	s.writeCredentials(w, r, me)
}

// writeCredentials answers with me as its owner sees it: the account, the
// source of its profile and its posting preferences, and its role.
func (s *Server) writeCredentials(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	prefs, err := s.Store.Preferences(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a := s.account(r.Context(), me)
	fields := make([]Field, 0, len(me.Fields))
	for _, f := range me.Fields {
		fields = append(fields, Field{Name: f.Name, Value: plainNote(f.Value)})
	}
	src := Source{Privacy: cmp.Or(prefs.Privacy, starling.VisibilityPublic), Sensitive: prefs.Sensitive,
		Note: plainNote(me.Note), Fields: fields, Indexable: a.Indexable, Discoverable: a.Discoverable}
	if prefs.Language != "" {
		src.Language = &prefs.Language
	}
	writeJSON(w, http.StatusOK, CredentialAccount{Account: a, Source: src, Role: Role{ID: "-99", Permissions: "0"}})
}
