package api

import (
	"context"
	"github.com/starling-social/starling/media"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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
	r.Body = http.MaxBytesReader(w, r.Body, 2*media.MaxImageBytes+1<<20) // an avatar and a header
	v, err := params(r)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+err.Error())
		return
	}
	prefs, err := s.Store.Preferences(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := outbox.Profile{DisplayName: me.DisplayName, Note: plainNote(me.Note), Locked: me.Locked, Bot: me.Bot,
		Discoverable: me.Discoverable, Indexable: me.Indexable, Preferences: prefs,
		AvatarURL: me.AvatarURL, HeaderURL: me.HeaderURL}
	// Pictures: made and stored before the profile changes, so a bad
	// picture changes nothing (an orphan file at worst).
	for _, pic := range []struct {
		field string
		w, h  int
		url   *string
	}{{"avatar", media.AvatarSize, media.AvatarSize, &p.AvatarURL}, {"header", media.HeaderWidth, media.HeaderHeight, &p.HeaderURL}} {
		if r.MultipartForm == nil || len(r.MultipartForm.File[pic.field]) == 0 {
			continue
		}
		u, err := s.storePicture(r, me, pic.field, pic.w, pic.h)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		*pic.url = u
	}
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

// storePicture makes and stores the profile picture sent as field.
func (s *Server) storePicture(r *http.Request, me *starling.Account, field string, w, h int) (string, error) {
	if s.Media == nil || s.Media.Files == nil {
		return "", starling.Errorf(starling.EINVALID, "Validation failed: this server takes no pictures")
	}
	f, _, err := r.FormFile(field)
	if err != nil {
		return "", starling.Errorf(starling.EINVALID, "Validation failed: %s is not a file", field)
	}
	defer f.Close()
	data, err := media.ReadAll(f)
	if err != nil {
		return "", err
	}
	encoded, _, ext, err := media.ProcessPicture(data, w, h)
	if err != nil {
		return "", err
	}
	// A new key per picture: files are served as immutable.
	key := "accounts/" + strconv.FormatInt(me.ID, 10) + "/" + field + "-" + strconv.FormatInt(starling.NewID(time.Now()), 36) + ext
	if err := s.Media.Files.Put(r.Context(), key, encoded); err != nil {
		return "", err
	}
	return s.Site.MediaURL(key), nil
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
