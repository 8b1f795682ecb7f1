package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// Operator is the admin's view of the delivery backlog and the actions
// that steer it (fanout.Operator).
type Operator interface {
	Backlog(ctx context.Context, f starling.HostBacklogFilter) ([]starling.HostBacklog, error)
	Trace(ctx context.Context, statusID int64) ([]starling.DeliveryTrace, error)
	HostQueue(ctx context.Context, host string, limit int) ([]starling.DeliveryTrace, error)
	HostAttempts(ctx context.Context, host string, limit int) ([]starling.DeliveryAttempt, error)
	HostAction(ctx context.Context, actor, action, host string) (int64, error)
	DeadLetters(ctx context.Context, f starling.DeadLetterFilter) ([]starling.DeadLetter, error)
	Replay(ctx context.Context, actor string, f starling.DeadLetterFilter) (int, error)
	Actions(ctx context.Context, limit int) ([]starling.AdminAction, error)
	History(ctx context.Context, hours int) ([]starling.DeliveryRate, error)
}

// operatorRoutes mounts the operator's view under /api/v1/admin: reads
// need admin:read, actions admin:write; every action is audited with the
// acting account.
func (s *Server) operatorRoutes(r chi.Router) {
	r.Get("/v1/admin/backlog", s.scoped("admin:read", s.adminBacklog))
	r.Get("/v1/admin/backlog/{host}", s.scoped("admin:read", s.adminBacklogHost))
	r.Get("/v1/admin/trace/{id}", s.scoped("admin:read", s.adminTrace))
	r.Get("/v1/admin/dead_letters", s.scoped("admin:read", s.adminDeadLetters))
	r.Post("/v1/admin/dead_letters/replay", s.scoped("admin:write", s.adminReplay))
	r.Get("/v1/admin/actions", s.scoped("admin:read", s.adminActions))
	r.Get("/v1/admin/history", s.scoped("admin:read", s.adminHistory))
	r.Get("/v1/admin/hosts/{host}/queue", s.scoped("admin:read", s.adminHostQueue))
	r.Get("/v1/admin/hosts/{host}/attempts", s.scoped("admin:read", s.adminHostAttempts))
	r.Post("/v1/admin/hosts/{host}/{action}", s.scoped("admin:write", s.adminHostAction))
}

// hostJSON is one row of the host table on the wire; ages in seconds.
type hostJSON struct {
	starling.HostBacklog
	OldestAgeSeconds float64 `json:"oldest_pending_age_seconds"`
}

func (s *Server) operator(w http.ResponseWriter) bool {
	if s.Operator == nil {
		writeError(w, http.StatusNotFound, "Record not found")
		return false
	}
	return true
}

func (s *Server) adminBacklog(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	if !s.operator(w) {
		return
	}
	q := r.URL.Query()
	f := starling.HostBacklogFilter{Host: q.Get("host"), Only: q.Get("filter")}
	var ok bool
	if f.Limit, ok = intParam(q.Get("limit"), 100); !ok || f.Limit > 10_000 {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: limit must be a number from 1 to 10000")
		return
	}
	if f.Offset, ok = intParam(q.Get("offset"), 0); !ok {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: offset must be a number")
		return
	}
	s.writeBacklog(w, r, f)
}

func (s *Server) adminBacklogHost(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	if !s.operator(w) {
		return
	}
	s.writeBacklog(w, r, starling.HostBacklogFilter{Host: chi.URLParam(r, "host"), Limit: 1})
}

func (s *Server) writeBacklog(w http.ResponseWriter, r *http.Request, f starling.HostBacklogFilter) {
	list, err := s.Operator.Backlog(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]hostJSON, len(list))
	for i, h := range list {
		out[i] = hostJSON{HostBacklog: h, OldestAgeSeconds: h.OldestAge.Round(time.Second).Seconds()}
	}
	if f.Host != "" && len(out) == 1 && f.Limit == 1 {
		writeJSON(w, http.StatusOK, out[0])
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminTrace(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	if !s.operator(w) {
		return
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+strconv.Quote(chi.URLParam(r, "id"))+" is not a status id")
		return
	}
	list, err := s.Operator.Trace(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) adminHostQueue(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	hostList(s, w, r, 10_000, s.Operator.HostQueue)
}

// adminHostAttempts is GET /api/v1/admin/hosts/{host}/attempts: the
// host's latest failed attempts, newest first.
func (s *Server) adminHostAttempts(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	hostList(s, w, r, 1000, s.Operator.HostAttempts)
}

// hostList answers with what list returns for the path's host, at most
// ?limit= entries (100 unless given, max at the most).
func hostList[T any](s *Server, w http.ResponseWriter, r *http.Request, max int, list func(ctx context.Context, host string, limit int) (T, error)) {
	if !s.operator(w) {
		return
	}
	limit, ok := intParam(r.URL.Query().Get("limit"), 100)
	if !ok || limit > max {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: limit must be a number from 1 to "+strconv.Itoa(max))
		return
	}
	out, err := list(r.Context(), chi.URLParam(r, "host"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// deadLetterJSON is one dead letter on the wire.
type deadLetterJSON struct {
	ID         int64     `json:"id"`
	Host       string    `json:"host"`
	Inbox      string    `json:"inbox"`
	ActivityID int64     `json:"activity_id"`
	Attempts   int       `json:"attempts"`
	FirstError string    `json:"first_error"`
	LastError  string    `json:"last_error"`
	At         time.Time `json:"at"`
}

func (s *Server) deadLetterFilter(w http.ResponseWriter, r *http.Request) (starling.DeadLetterFilter, bool) {
	v, err := readParams(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return starling.DeadLetterFilter{}, false
	}
	f := starling.DeadLetterFilter{Host: v.Get("host")}
	if st := v.Get("status_id"); st != "" {
		id, err := strconv.ParseInt(st, 10, 64)
		if err != nil || id <= 0 {
			writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+strconv.Quote(st)+" is not a status id")
			return f, false
		}
		f.StatusID = id
	}
	var ok bool
	if f.Limit, ok = intParam(v.Get("limit"), 0); !ok {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: limit must be a number")
		return f, false
	}
	return f, true
}

func (s *Server) adminDeadLetters(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	if !s.operator(w) {
		return
	}
	f, ok := s.deadLetterFilter(w, r)
	if !ok {
		return
	}
	list, err := s.Operator.DeadLetters(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]deadLetterJSON, len(list))
	for i, d := range list {
		out[i] = deadLetterJSON{ID: d.ID, Host: d.Host, Inbox: d.Inbox, ActivityID: d.ActivityID, Attempts: d.Attempts,
			FirstError: d.FirstError, LastError: d.LastError, At: d.CreatedAt}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminReplay(w http.ResponseWriter, r *http.Request, a *starling.Account) {
	if !s.operator(w) {
		return
	}
	f, ok := s.deadLetterFilter(w, r)
	if !ok {
		return
	}
	n, err := s.Operator.Replay(r.Context(), actorName(a), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
}

func (s *Server) adminActions(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	if !s.operator(w) {
		return
	}
	limit, ok := intParam(r.URL.Query().Get("limit"), 100)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: limit must be a number")
		return
	}
	list, err := s.Operator.Actions(r.Context(), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

var hostActions = map[string]bool{"pause": true, "resume": true, "retry": true, "purge": true, "clear": true,
	"suspend": true, "unsuspend": true}

func (s *Server) adminHostAction(w http.ResponseWriter, r *http.Request, a *starling.Account) {
	if !s.operator(w) {
		return
	}
	action := chi.URLParam(r, "action")
	if !hostActions[action] {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	host := chi.URLParam(r, "host")
	n, err := s.Operator.HostAction(r.Context(), actorName(a), action, host)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"host": host, "action": action, "affected": n})
}

// actorName is how an account appears in the audit.
func actorName(a *starling.Account) string {
	return "@" + a.Username
}

// intParam parses a non-negative integer; def when absent.
func intParam(s string, def int) (int, bool) {
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// adminHistory is GET /api/v1/admin/history?hours=6: deliveries queued
// and delivered per step, and the backlog sampled in each (-1: none).
func (s *Server) adminHistory(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	hours := 6
	if v := r.URL.Query().Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "hours must be a number")
			return
		}
		hours = n
	}
	h, err := s.Operator.History(r.Context(), hours)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}
