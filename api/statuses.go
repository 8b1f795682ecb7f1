package api

import (
	"cmp"
	"errors"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/outbox"
)

func (s *Server) postStatus(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	v, err := params(r)
	var perr *paramError
	switch {
	case errors.As(err, &perr) && perr.name == "in_reply_to_id":
		writeError(w, http.StatusNotFound, "Record not found")
		return
	case errors.As(err, &perr):
		// Mastodon answers a status form it cannot accept as a validation failure.
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// Mastodon looks the parent up by id: one that is malformed, unknown
	// or not visible to the author is "Record not found".
	replyTo, ok := idParam(v.Get("in_reply_to_id"))
	if !ok {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	// A client that retries a post it is not sure went through sends the
	// same Idempotency-Key: within an hour it gets the first status back
	// (Mastodon's PostStatusService keeps the key an hour too).
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 128 || !validText(key) {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: Idempotency-Key is too long or not text")
		return
	}
	if key != "" {
		if st, err := s.Store.IdempotentStatus(r.Context(), me.ID, key); err == nil && st.AccountID == me.ID {
			writeJSON(w, http.StatusOK, s.status(r.Context(), st, nil))
			return
		} else if err != nil && !errors.Is(err, starling.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
	}
	if !s.allowPost(w, r, me) { // ratelimit.go
		return
	}
	prefs, err := s.Store.Preferences(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sensitive := prefs.Sensitive
	if _, ok := v["sensitive"]; ok {
		sensitive = boolParam(v, "sensitive")
	}
	mediaIDs, err := ids(v, "media_ids")
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: media_ids must be ids")
		return
	}
	st, err := s.Outbox.CreateStatus(r.Context(), me, outbox.NewStatus{
		MediaIDs:    mediaIDs,
		Text:        v.Get("status"),
		SpoilerText: v.Get("spoiler_text"),
		Sensitive:   sensitive,
		Visibility:  cmp.Or(v.Get("visibility"), prefs.Privacy),
		InReplyToID: replyTo,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if key != "" {
		if err := s.Store.RememberIdempotency(r.Context(), me.ID, key, st.ID); err != nil {
			// The status is posted; only a retry would post it twice.
			s.Logger.Warn("remember idempotency key", "account_id", me.ID, "status_id", st.ID, "error", err)
		}
	}
	writeJSON(w, http.StatusOK, s.status(r.Context(), st, nil))
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	st, err := s.visibleStatus(r, me)
	s.answerStatus(w, r, me, st, err) // client.go
}

// visibleStatus returns the status named in the path if me may see it,
// else starling.ErrNotFound (as Mastodon, a status one may not see does not exist).
func (s *Server) visibleStatus(r *http.Request, me *starling.Account) (*starling.Status, error) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok {
		return nil, starling.ErrNotFound
	}
	st, err := s.Store.StatusByID(r.Context(), n)
	if err == nil && !s.canSee(r, me, st) {
		err = starling.ErrNotFound
	}
	return st, err
}

// canSee applies visibility as Mastodon's StatusPolicy: public and
// unlisted to all, private to the author, accepted followers and the
// mentioned, direct to the author and the mentioned.
func (s *Server) canSee(r *http.Request, me *starling.Account, st *starling.Status) bool {
	switch {
	case st.Visibility == starling.VisibilityPublic || st.Visibility == starling.VisibilityUnlisted:
		return true
	case me == nil:
		return false
	case me.ID == st.AccountID:
		return true
	case st.Visibility == starling.VisibilityPrivate:
		rel, err := s.Store.Relationships(r.Context(), me.ID, []int64{st.AccountID})
		if err == nil && len(rel) == 1 && rel[0].Following {
			return true
		}
	}
	mentioned, err := s.Store.StatusMentionIDs(r.Context(), st.ID)
	return err == nil && slices.Contains(mentioned, me.ID)
}

func (s *Server) deleteStatus(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	st, err := s.Outbox.DeleteStatus(r.Context(), me, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := s.status(r.Context(), st, nil)
	// Mastodon returns the source text so clients can offer "delete and redraft".
	text := st.SourceText
	if text == "" {
		text = st.Content // posted before sources were kept
	}
	out.Text = &text
	writeJSON(w, http.StatusOK, out)
}

// editStatus is Mastodon's PUT /api/v1/statuses/:id: the whole new text,
// content warning and sensitive flag.
func (s *Server) editStatus(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok || n == 0 {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	v, err := params(r)
	var perr *paramError
	switch {
	case errors.As(err, &perr):
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	p := outbox.EditedStatus{
		Text:        v.Get("status"),
		SpoilerText: v.Get("spoiler_text"),
		Sensitive:   boolParam(v, "sensitive"),
	}
	// media_ids[] present (even empty, as media_ids[]=) replaces the
	// pictures; absent keeps them, as on Mastodon.
	if _, ok := v["media_ids[]"]; ok || v.Has("media_ids") {
		if p.MediaIDs, err = ids(v, "media_ids"); err != nil {
			writeError(w, http.StatusUnprocessableEntity, "Validation failed: media_ids must be ids")
			return
		}
		if p.MediaIDs == nil {
			p.MediaIDs = []int64{}
		}
	}
	st, err := s.Outbox.EditStatus(r.Context(), me, n, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.rendered.forget(st.ID) // this process; the others' caches expire within their TTL
	writeJSON(w, http.StatusOK, s.status(r.Context(), st, nil))
}

// StatusEdit is Mastodon's StatusEdit entity.
type StatusEdit struct {
	Content          string   `json:"content"`
	SpoilerText      string   `json:"spoiler_text"`
	Sensitive        bool     `json:"sensitive"`
	CreatedAt        string   `json:"created_at"`
	Account          *Account `json:"account"`
	MediaAttachments []any    `json:"media_attachments"`
	Emojis           []any    `json:"emojis"`
}

// statusHistory is Mastodon's GET /api/v1/statuses/:id/history: every
// version, the original first; a status never edited has one, itself.
func (s *Server) statusHistory(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	st, err := s.visibleStatus(r, me)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	edits, err := s.Store.StatusEdits(r.Context(), st.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(edits) == 0 {
		edits = []starling.StatusEdit{{Content: st.Content, SpoilerText: st.SpoilerText, Sensitive: st.Sensitive, CreatedAt: st.CreatedAt}}
	}
	author := s.account(r.Context(), st.Account)
	out := make([]StatusEdit, 0, len(edits))
	for _, e := range edits {
		out = append(out, StatusEdit{Content: e.Content, SpoilerText: e.SpoilerText, Sensitive: e.Sensitive,
			CreatedAt: formatTime(e.CreatedAt), Account: author, MediaAttachments: []any{}, Emojis: []any{}})
	}
	writeJSON(w, http.StatusOK, out)
}

// statusSource is Mastodon's GET /api/v1/statuses/:id/source: the text to
// edit, for the author only.
func (s *Server) statusSource(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	st, err := s.visibleStatus(r, me)
	if err == nil && st.AccountID != me.ID {
		err = starling.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	text, spoiler, err := s.Store.StatusSource(r.Context(), st.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id(st.ID), "text": text, "spoiler_text": spoiler})
}
