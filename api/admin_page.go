package api

import (
	_ "embed"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// The admin page: the operator's view server-rendered with html/template,
// behind the sign-in session of the OAuth pages (oauth_pages.go) and the
// admin role. It works without JavaScript: every action is a POST form
// carrying the session's CSRF token, answered with a redirect back.

// adminView is what admin.html shows.
type adminView struct {
	Hosts    []hostLine
	Actions  []starling.AdminAction
	Trace    []starling.DeliveryTrace
	StatusID string
	Notice   string
	Error    string
	Chart    *chart
	// One host's page.
	HostDetail *hostLine
	Queue      []starling.DeliveryTrace
	Attempts   []starling.DeliveryAttempt
}

// hostLine is one row of the host table, with its buttons.
type hostLine struct {
	starling.HostBacklog
	State, Oldest, Next string
	Refused             string // "refused rfc9421-ed25519 2h0m0s ago", or ""
	Actions             []hostButton
}

type hostButton struct{ Host, Name string }

// adminSession returns the signed-in admin of the request, or answers
// (sign-in page, 403) and returns nil.
func (s *Server) adminSession(w http.ResponseWriter, r *http.Request, b browser) *starling.Account {
	if s.Operator == nil || s.Roles == nil {
		s.renderError(w, http.StatusNotFound, "not_found", "There is no admin page on this server.")
		return nil
	}
	if b.accountID == 0 {
		s.render(w, http.StatusOK, "login.html", page{Title: "Sign in", CSRF: b.csrf(), ReturnTo: "/admin"})
		return nil
	}
	admin, err := s.Roles.IsAdmin(r.Context(), b.accountID)
	if err != nil {
		s.fail(w, r, err)
		return nil
	}
	if !admin {
		s.renderError(w, http.StatusForbidden, "forbidden", "This page is for admins of "+s.Site.Host+".")
		return nil
	}
	a, err := s.Store.AccountByID(r.Context(), b.accountID)
	if err != nil {
		s.fail(w, r, err)
		return nil
	}
	return a
}

// adminBrowser is the signed-in admin's browser session for a page; when
// there is none it has answered (a sign-in form, 403, or an error).
func (s *Server) adminBrowser(w http.ResponseWriter, r *http.Request) (browser, bool) {
	b, err := s.browserSession(w, r)
	if err != nil {
		s.fail(w, r, err)
		return b, false
	}
	return b, s.adminSession(w, r, b) != nil
}

// adminPage is GET /admin: the host table and the recent actions.
func (s *Server) adminPage(w http.ResponseWriter, r *http.Request) {
	b, ok := s.adminBrowser(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	v := &adminView{Notice: q.Get("notice")}
	list, err := s.Operator.Backlog(r.Context(), starling.HostBacklogFilter{Only: q.Get("filter"), Limit: 200})
	if starling.ErrorCode(err) == starling.EINVALID {
		v.Error, err = starling.ErrorMessage(err), nil
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := time.Now()
	for _, h := range list {
		v.Hosts = append(v.Hosts, newHostLine(h, now))
	}
	if v.Actions, err = s.Operator.Actions(r.Context(), 20); err != nil {
		s.fail(w, r, err)
		return
	}
	hours := 6
	if n, err := strconv.Atoi(q.Get("hours")); err == nil && n >= 1 && n <= 48 {
		hours = n
	}
	history, err := s.Operator.History(r.Context(), hours)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Chart = newChart(history, hours)
	s.render(w, http.StatusOK, "admin.html", page{Title: "Deliveries", CSRF: b.csrf(), Admin: v})
}

// adminTracePage is GET /admin/trace?status=ID.
func (s *Server) adminTracePage(w http.ResponseWriter, r *http.Request) {
	b, ok := s.adminBrowser(w, r)
	if !ok {
		return
	}
	v := &adminView{StatusID: r.URL.Query().Get("status")}
	id, err := strconv.ParseInt(v.StatusID, 10, 64)
	if err != nil || id <= 0 {
		v.Error = strconv.Quote(v.StatusID) + " is not a status id"
	} else if v.Trace, err = s.Operator.Trace(r.Context(), id); errors.Is(err, starling.ErrNotFound) {
		v.Error = "There is no status " + v.StatusID + "."
	} else if err != nil {
		s.fail(w, r, err)
		return
	} else if len(v.Trace) == 0 {
		v.Notice = "Status " + v.StatusID + " was sent to no remote inbox."
	}
	s.render(w, http.StatusOK, "admin.html", page{Title: "Trace", CSRF: b.csrf(), Admin: v})
}

// adminPageAction is POST /admin/hosts/{host}/{action} from the page's
// buttons: the action, audited as the signed-in admin, then back.
func (s *Server) adminPageAction(w http.ResponseWriter, r *http.Request) {
	b, ok := s.postedForm(w, r)
	if !ok {
		return
	}
	a := s.adminSession(w, r, b)
	if a == nil {
		return
	}
	action, host := chi.URLParam(r, "action"), chi.URLParam(r, "host")
	if !hostActions[action] {
		s.renderError(w, http.StatusNotFound, "not_found", "There is no such action.")
		return
	}
	n, err := s.Operator.HostAction(r.Context(), actorName(a), action, host)
	if code := starling.ErrorCode(err); code == starling.EINVALID || code == starling.ENOTFOUND {
		s.renderError(w, http.StatusUnprocessableEntity, "invalid", starling.ErrorMessage(err))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	notice := action + " " + host + ": done"
	if n > 0 {
		notice += " (" + strconv.FormatInt(n, 10) + " deliveries)"
	}
	back := "/admin"
	if r.PostFormValue("back") == "host" { // from the host's own page
		back = "/admin/hosts/" + url.PathEscape(host)
	}
	http.Redirect(w, r, back+"?"+url.Values{"notice": {notice}}.Encode(), http.StatusSeeOther)
}

// newHostLine is one row of the host table, with its state and buttons.
func newHostLine(h starling.HostBacklog, now time.Time) hostLine {
	line := hostLine{HostBacklog: h, State: "ok", Oldest: since(h.OldestPending, now), Next: since(h.NextAttempt, now)}
	if h.SignatureRefused != "" {
		line.Refused = "refused " + h.SignatureRefused + " " + since(h.SignatureRefusedAt, now)
	}
	switch {
	case h.Suspended:
		line.State = "suspended"
	case h.Paused:
		line.State = "paused"
	case h.Unavailable:
		line.State = "unavailable"
	case h.LastError != "":
		line.State = "failing"
	}
	names := []string{"pause", "retry", "purge", "clear", "suspend"}
	if h.Paused {
		names[0] = "resume"
	}
	if h.Suspended {
		names[4] = "unsuspend"
	}
	for _, n := range names {
		line.Actions = append(line.Actions, hostButton{Host: h.Host, Name: n})
	}
	return line
}

// adminHostPage is GET /admin/hosts/{host}: one host's row and buttons,
// its queue (oldest first) and its attempt history (newest first).
func (s *Server) adminHostPage(w http.ResponseWriter, r *http.Request) {
	b, ok := s.adminBrowser(w, r)
	if !ok {
		return
	}
	host := chi.URLParam(r, "host")
	v := &adminView{Notice: r.URL.Query().Get("notice")}
	list, err := s.Operator.Backlog(r.Context(), starling.HostBacklogFilter{Host: host})
	if code := starling.ErrorCode(err); code == starling.EINVALID || code == starling.ENOTFOUND || (err == nil && len(list) == 0) {
		s.renderError(w, http.StatusNotFound, "not_found", "No deliveries, failures or decisions for "+host+".")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	line := newHostLine(list[0], time.Now())
	v.HostDetail = &line
	if v.Queue, err = s.Operator.HostQueue(r.Context(), host, 100); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Attempts, err = s.Operator.HostAttempts(r.Context(), host, 50); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "admin.html", page{Title: host, CSRF: b.csrf(), Admin: v})
}

func since(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	if d := now.Sub(t); d >= 0 {
		return d.Round(time.Second).String() + " ago"
	}
	return "in " + t.Sub(now).Round(time.Second).String()
}

//go:embed static/admin.js
var adminJS []byte

// adminScript is GET /admin/admin.js, the page's optional refresh.
func (s *Server) adminScript(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(adminJS)
}
