package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling/outbox"
	"github.com/starling-social/starling/store"
)

func (s *Server) postStatus(w http.ResponseWriter, r *http.Request, me *store.Account) {
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
	st, err := s.Outbox.CreateStatus(r.Context(), me, outbox.NewStatus{
		Text:        v.Get("status"),
		SpoilerText: v.Get("spoiler_text"),
		Sensitive:   boolParam(v, "sensitive"),
		Visibility:  v.Get("visibility"),
		InReplyToID: replyTo,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.status(r.Context(), st, nil))
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request, me *store.Account) {
	st, err := s.visibleStatus(r, me)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.status(r.Context(), st, nil))
}

// visibleStatus returns the status named in the path if me may see it,
// else store.ErrNotFound (as Mastodon, a status one may not see does not exist).
func (s *Server) visibleStatus(r *http.Request, me *store.Account) (*store.Status, error) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok {
		return nil, store.ErrNotFound
	}
	st, err := s.Store.StatusByID(r.Context(), n)
	if err == nil && !s.canSee(r, me, st) {
		err = store.ErrNotFound
	}
	return st, err
}

// canSee applies visibility: public and unlisted to all, private to the
// author and accepted followers, direct to the author (mentions come later).
func (s *Server) canSee(r *http.Request, me *store.Account, st *store.Status) bool {
	switch {
	case st.Visibility == store.VisibilityPublic || st.Visibility == store.VisibilityUnlisted:
		return true
	case me == nil:
		return false
	case me.ID == st.AccountID:
		return true
	case st.Visibility == store.VisibilityPrivate:
		rel, err := s.Store.Relationships(r.Context(), me.ID, []int64{st.AccountID})
		return err == nil && len(rel) == 1 && rel[0].Following
	}
	return false
}

func (s *Server) deleteStatus(w http.ResponseWriter, r *http.Request, me *store.Account) {
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
	text := st.Content
	out.Text = &text
	writeJSON(w, http.StatusOK, out)
}
