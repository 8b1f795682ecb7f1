package api

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/starling-social/starling"
)

// groupableTypes are the notification types Mastodon groups (4.3's
// GROUPABLE_NOTIFICATION_TYPES): favourites and boosts of one status, and
// follows, within an hour.
var groupableTypes = []string{starling.NotifyFavourite, starling.NotifyReblog, starling.NotifyFollow}

// groupKey is a notification's group: "<type>-<status>-<hour>" for a
// favourite or boost, "follow-<hour>" for a follow (hours since the
// epoch), "ungrouped-<id>" otherwise, as Mastodon forms them.
func groupKey(n *starling.Notification) string {
	hour := strconv.FormatInt(n.CreatedAt.Unix()/3600, 10)
	switch n.Type {
	case starling.NotifyFavourite, starling.NotifyReblog:
		return n.Type + "-" + id(n.StatusID) + "-" + hour
	case starling.NotifyFollow:
		return n.Type + "-" + hour
	}
	return "ungrouped-" + id(n.ID)
}

// NotificationGroup is Mastodon's NotificationGroup entity.
type NotificationGroup struct {
	GroupKey           string `json:"group_key"`
	NotificationsCount int    `json:"notifications_count"`
	Type               string `json:"type"`
	// A number, as Mastodon sends it (and describes it). A JavaScript
	// client reading it as a number may round it; page_max_id is the
	// same id as a string.
	MostRecentNotificationID int64    `json:"most_recent_notification_id"`
	PageMinID                string   `json:"page_min_id"`
	PageMaxID                string   `json:"page_max_id"`
	LatestPageNotificationAt string   `json:"latest_page_notification_at"`
	SampleAccountIDs         []string `json:"sample_account_ids"`
	StatusID                 *string  `json:"status_id"`
}

// GroupedNotifications is Mastodon's GroupedNotificationsResults.
type GroupedNotifications struct {
	Accounts           []*Account           `json:"accounts"`
	Statuses           []*Status            `json:"statuses"`
	NotificationGroups []*NotificationGroup `json:"notification_groups"`
}

// groupedNotifications is GET /api/v2/notifications: one page of
// notifications (the same paging and filters as v1), grouped within the
// page as Mastodon groups them, each account and status given once.
func (s *Server) groupedNotifications(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	q := r.URL.Query()
	p, err := pageParams(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if q.Get("limit") == "" {
		p.Limit = 40
	}
	grouped := append(q["grouped_types[]"], q["grouped_types"]...)
	if len(grouped) == 0 {
		grouped = groupableTypes
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
	out := GroupedNotifications{Accounts: []*Account{}, Statuses: []*Status{}, NotificationGroups: []*NotificationGroup{}}
	groups := map[string]*NotificationGroup{}
	seenAccount, seenStatus := map[int64]bool{}, map[int64]bool{}
	for _, n := range page { // newest first
		var st *Status
		if n.Status != nil {
			st = s.item(r.Context(), n.Status)
			if len(s.applyFilters(r.Context(), me, starling.FilterNotifications, []*Status{st})) == 0 {
				continue // its status is hidden in notifications (filter_apply.go)
			}
		}
		key := "ungrouped-" + id(n.ID)
		if slices.Contains(grouped, n.Type) {
			key = groupKey(n)
		}
		g := groups[key]
		if g == nil {
			g = &NotificationGroup{GroupKey: key, Type: n.Type, MostRecentNotificationID: n.ID,
				PageMaxID: id(n.ID), LatestPageNotificationAt: formatTime(n.CreatedAt), SampleAccountIDs: []string{}}
			if n.StatusID != 0 && n.Status != nil {
				sid := id(n.StatusID)
				g.StatusID = &sid
			}
			groups[key] = g
			out.NotificationGroups = append(out.NotificationGroups, g)
		}
		g.NotificationsCount++
		g.PageMinID = id(n.ID)
		if n.From != nil && len(g.SampleAccountIDs) < 8 && !slices.Contains(g.SampleAccountIDs, id(n.From.ID)) {
			g.SampleAccountIDs = append(g.SampleAccountIDs, id(n.From.ID))
		}
		if n.From != nil && !seenAccount[n.From.ID] {
			seenAccount[n.From.ID] = true
			out.Accounts = append(out.Accounts, s.accountCache.get(r.Context(), s, n.From))
		}
		if n.Status != nil && !seenStatus[n.StatusID] {
			seenStatus[n.StatusID] = true
			out.Statuses = append(out.Statuses, st)
		}
	}
	s.markViewer(r.Context(), me, out.Statuses...)
	if len(page) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, q, page[len(page)-1].ID, page[0].ID)
	}
	writeJSONOnce(w, out)
}

// unreadCount is GET /api/v1/notifications/unread_count (and v2's):
// notifications after the notifications marker, counted up to limit
// (default 100, at most 1000), as Mastodon does.
func (s *Server) unreadCount(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit must be a positive number")
			return
		}
		limit = min(n, 1000)
	}
	n, err := s.Store.UnreadNotifications(r.Context(), me.ID, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": n})
}
