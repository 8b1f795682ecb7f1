package api

import (
	"context"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/outbox"
)

// ProfileStore is what the profile routes read besides the account.
type ProfileStore interface {
	Preferences(ctx context.Context, accountID int64) (starling.Preferences, error)
	// Idempotency-Key of status creation (statuses.go).
	IdempotentStatus(ctx context.Context, accountID int64, key string) (*starling.Status, error)
	RememberIdempotency(ctx context.Context, accountID int64, key string, statusID int64) error
}

// fieldKey matches fields_attributes[<index>][name|value], the way Rails
// forms (and masto.js, in JSON) send profile fields.
var fieldKey = regexp.MustCompile(`^fields_attributes\[(\d+)\]\[(name|value)\]$`)

// updateCredentials is PATCH /api/v1/accounts/update_credentials: what the
// request names changes, the rest stays; fields, when sent, are replaced
// whole. The change is federated as an Update of the actor.
func (s *Server) updateCredentials(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	v, err := params(r)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+err.Error())
		return
	}
	if r.MultipartForm != nil && (len(r.MultipartForm.File["avatar"]) > 0 || len(r.MultipartForm.File["header"]) > 0) {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: avatar and header images are not supported yet")
		return
	}
	prefs, err := s.Store.Preferences(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := outbox.Profile{DisplayName: me.DisplayName, Note: plainNote(me.Note), Locked: me.Locked, Bot: me.Bot,
		Discoverable: me.Discoverable, Indexable: me.Indexable, Preferences: prefs}
	for _, f := range me.Fields {
		p.Fields = append(p.Fields, starling.Field{Name: f.Name, Value: plainNote(f.Value)})
	}
	if _, ok := v["display_name"]; ok {
		p.DisplayName = v.Get("display_name")
	}
	if _, ok := v["note"]; ok {
		p.Note = v.Get("note")
	}
	for name, to := range map[string]*bool{"locked": &p.Locked, "bot": &p.Bot, "discoverable": &p.Discoverable,
		"indexable": &p.Indexable, "source[sensitive]": &p.Preferences.Sensitive} {
		if _, ok := v[name]; ok {
			*to = boolParam(v, name)
		}
	}
	if _, ok := v["source[privacy]"]; ok {
		p.Preferences.Privacy = v.Get("source[privacy]")
	}
	if _, ok := v["source[language]"]; ok {
		p.Preferences.Language = strings.ToLower(v.Get("source[language]"))
	}
	if fields, ok := formFields(v); ok {
		p.Fields = fields
	}
	a, err := s.Outbox.UpdateProfile(r.Context(), me, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeCredentials(w, r, a)
}

// formFields reads fields_attributes[i][name|value] in index order; ok is
// false when the request sends no fields.
func formFields(v map[string][]string) (fields []starling.Field, ok bool) {
	byIndex := map[int]*starling.Field{}
	for k, vals := range v {
		m := fieldKey.FindStringSubmatch(k)
		if m == nil || len(vals) == 0 {
			continue
		}
		i, err := strconv.Atoi(m[1])
		if err != nil || i > 100 {
			continue
		}
		f := byIndex[i]
		if f == nil {
			f = &starling.Field{}
			byIndex[i] = f
		}
		if m[2] == "name" {
			f.Name = vals[0]
		} else {
			f.Value = vals[0]
		}
	}
	if len(byIndex) == 0 {
		return nil, false
	}
	order := make([]int, 0, len(byIndex))
	for i := range byIndex {
		order = append(order, i)
	}
	sort.Ints(order)
	fields = make([]starling.Field, 0, len(order))
	for _, i := range order {
		fields = append(fields, *byIndex[i])
	}
	return fields, true
}
