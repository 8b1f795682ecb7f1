package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/starling-social/starling"
)

// Notification is Mastodon's Notification entity.
type Notification struct {
	ID        string   `json:"id"`
	Type      string   `json:"type"`
	GroupKey  string   `json:"group_key"` // notification_groups.go
	CreatedAt string   `json:"created_at"`
	Account   *Account `json:"account"`
	Status    *Status  `json:"status,omitempty"`
}

func (s *Server) notification(ctx context.Context, n *starling.Notification) *Notification {
	out := &Notification{
		ID:        id(n.ID),
		Type:      n.Type,
		GroupKey:  groupKey(n),
		CreatedAt: formatTime(n.CreatedAt),
		Account:   s.accountCache.get(ctx, s, n.From),
	}
	if n.Status != nil {
		out.Status = s.item(ctx, n.Status)
	}
	return out
}

// notifications serves GET /api/v1/notifications with Mastodon's paging
// and types[] / exclude_types[] filters.
func (s *Server) notifications(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	q := r.URL.Query()
	p, err := pageParams(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := starling.NotificationFilter{
		Types:        append(q["types[]"], q["types"]...),
		ExcludeTypes: append(q["exclude_types[]"], q["exclude_types"]...),
	}
	page, err := s.Store.Notifications(r.Context(), me.ID, p, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]*Notification, 0, len(page))
	var statuses []*Status
	for _, n := range page {
		rendered := s.notification(r.Context(), n)
		if rendered.Status != nil {
			statuses = append(statuses, rendered.Status)
		}
		out = append(out, rendered)
	}
	s.markViewer(r.Context(), me, statuses...)        // client.go
	out = s.filterNotifications(r.Context(), me, out) // filter_apply.go
	if len(page) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, q, page[len(page)-1].ID, page[0].ID)
	}
	writeJSONOnce(w, out)
}

func (s *Server) getNotification(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok || n == 0 {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	got, err := s.Store.NotificationByID(r.Context(), me.ID, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := s.notification(r.Context(), got)
	if out.Status != nil {
		s.markViewer(r.Context(), me, out.Status)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) dismissNotification(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok || n == 0 {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	if err := s.Store.DismissNotification(r.Context(), me.ID, n); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) clearNotifications(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	if err := s.Store.ClearNotifications(r.Context(), me.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}
