package api

import (
	"net/http"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/outbox"
)

// Report is Mastodon's Report entity, as its reporter sees it.
type Report struct {
	ID            string   `json:"id"`
	ActionTaken   bool     `json:"action_taken"`
	ActionTakenAt *string  `json:"action_taken_at"`
	Category      string   `json:"category"`
	Comment       string   `json:"comment"`
	Forwarded     bool     `json:"forwarded"`
	CreatedAt     string   `json:"created_at"`
	StatusIDs     []string `json:"status_ids"`
	RuleIDs       []string `json:"rule_ids"`
	TargetAccount *Account `json:"target_account"`
}

// createReport is POST /api/v1/reports: account_id, status_ids[],
// comment, category, forward.
func (s *Server) createReport(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	v, err := params(r)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+err.Error())
		return
	}
	n, ok := idParam(v.Get("account_id"))
	if !ok || n == 0 {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	target, err := s.Store.AccountByID(r.Context(), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	statuses, err := ids(v, "status_ids")
	if err != nil {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	if rules := append(v["rule_ids[]"], v["rule_ids"]...); len(rules) > 0 {
		// The instance has no rules to cite (its rule list is empty).
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: Rule ids name no rule of this server")
		return
	}
	rep, err := s.Outbox.Report(r.Context(), me, outbox.NewReport{Target: target, StatusIDs: statuses,
		Comment: v.Get("comment"), Category: v.Get("category"), Forward: boolParam(v, "forward")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := Report{ID: id(rep.ID), Category: rep.Category, Comment: rep.Comment, Forwarded: rep.Forwarded,
		CreatedAt: formatTime(rep.CreatedAt), StatusIDs: make([]string, 0, len(rep.StatusIDs)), RuleIDs: []string{},
		TargetAccount: s.account(r.Context(), target)}
	for _, sid := range rep.StatusIDs {
		out.StatusIDs = append(out.StatusIDs, id(sid))
	}
	writeJSON(w, http.StatusOK, out)
}
