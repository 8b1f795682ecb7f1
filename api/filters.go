package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// FilterStore keeps a person's content filters (Mastodon's CustomFilter
// with its keywords and statuses).
type FilterStore interface {
	Filters(ctx context.Context, owner int64) ([]*starling.Filter, error)
	FilterByID(ctx context.Context, owner, id int64) (*starling.Filter, error)
	CreateFilter(ctx context.Context, f *starling.Filter) error
	UpdateFilter(ctx context.Context, f *starling.Filter, edits []starling.FilterKeywordEdit) error
	DeleteFilter(ctx context.Context, owner, id int64) error
	FilterKeywordByID(ctx context.Context, owner, id int64) (*starling.FilterKeyword, error)
	AddFilterKeyword(ctx context.Context, owner int64, k *starling.FilterKeyword) error
	UpdateFilterKeyword(ctx context.Context, owner int64, k *starling.FilterKeyword) error
	DeleteFilterKeyword(ctx context.Context, owner, id int64) error
	FilterStatusByID(ctx context.Context, owner, id int64) (*starling.FilterStatus, error)
	AddFilterStatus(ctx context.Context, owner int64, s *starling.FilterStatus) error
	DeleteFilterStatus(ctx context.Context, owner, id int64) error
}

// FilterSummary is Mastodon's Filter entity as a FilterResult carries it,
// without keywords and statuses.
type FilterSummary struct {
	ID           string   `json:"id"`
	Title        string   `json:"title"`
	Context      []string `json:"context"`
	ExpiresAt    *string  `json:"expires_at"`
	FilterAction string   `json:"filter_action"`
}

// Filter is Mastodon's Filter entity.
type Filter struct {
	FilterSummary
	Keywords []FilterKeyword `json:"keywords"`
	Statuses []FilterStatus  `json:"statuses"`
}

// FilterKeyword is Mastodon's FilterKeyword entity.
type FilterKeyword struct {
	ID        string `json:"id"`
	Keyword   string `json:"keyword"`
	WholeWord bool   `json:"whole_word"`
}

// FilterStatus is Mastodon's FilterStatus entity.
type FilterStatus struct {
	ID       string `json:"id"`
	StatusID string `json:"status_id"`
}

// FilterResult is Mastodon's FilterResult entity: a filter a status
// matched, and by what.
type FilterResult struct {
	Filter         FilterSummary `json:"filter"`
	KeywordMatches []string      `json:"keyword_matches"`
	StatusMatches  []string      `json:"status_matches"`
}

// V1Filter is Mastodon's V1::Filter entity: one keyword of a filter.
type V1Filter struct {
	ID           string   `json:"id"`
	Phrase       string   `json:"phrase"`
	Context      []string `json:"context"`
	WholeWord    bool     `json:"whole_word"`
	ExpiresAt    *string  `json:"expires_at"`
	Irreversible bool     `json:"irreversible"`
}

func filterSummary(f *starling.Filter) FilterSummary {
	out := FilterSummary{ID: id(f.ID), Title: f.Title, Context: f.Context, FilterAction: f.Action}
	if out.Context == nil {
		out.Context = []string{}
	}
	if !f.ExpiresAt.IsZero() {
		t := formatTime(f.ExpiresAt)
		out.ExpiresAt = &t
	}
	return out
}

func renderFilter(f *starling.Filter) Filter {
	out := Filter{FilterSummary: filterSummary(f), Keywords: make([]FilterKeyword, 0, len(f.Keywords)),
		Statuses: make([]FilterStatus, 0, len(f.Statuses))}
	for _, k := range f.Keywords {
		out.Keywords = append(out.Keywords, renderKeyword(k))
	}
	for _, st := range f.Statuses {
		out.Statuses = append(out.Statuses, renderFilterStatus(st))
	}
	return out
}

func renderKeyword(k starling.FilterKeyword) FilterKeyword {
	return FilterKeyword{ID: id(k.ID), Keyword: k.Keyword, WholeWord: k.WholeWord}
}

func renderFilterStatus(st starling.FilterStatus) FilterStatus {
	return FilterStatus{ID: id(st.ID), StatusID: id(st.StatusID)}
}

func renderV1Filter(f *starling.Filter, k starling.FilterKeyword) V1Filter {
	sum := filterSummary(f)
	return V1Filter{ID: id(k.ID), Phrase: k.Keyword, Context: sum.Context, WholeWord: k.WholeWord,
		ExpiresAt: sum.ExpiresAt, Irreversible: f.Action == starling.FilterHide}
}

// filterRoutes are the filters endpoints, v2 and v1; r authenticates.
func (s *Server) filterRoutes(r chi.Router) {
	r.Get("/v2/filters", s.scoped("read:filters", s.filtersV2))
	r.Post("/v2/filters", s.scoped("write:filters", s.createFilter))
	r.Get("/v2/filters/{id}", s.scoped("read:filters", s.withFilter(s.getFilter)))
	r.Put("/v2/filters/{id}", s.scoped("write:filters", s.withFilter(s.updateFilter)))
	r.Delete("/v2/filters/{id}", s.scoped("write:filters", s.withFilter(s.deleteFilter)))
	r.Get("/v2/filters/{id}/keywords", s.scoped("read:filters", s.withFilter(s.filterKeywords)))
	r.Post("/v2/filters/{id}/keywords", s.scoped("write:filters", s.withFilter(s.addFilterKeyword)))
	r.Get("/v2/filters/{id}/statuses", s.scoped("read:filters", s.withFilter(s.filterStatuses)))
	r.Post("/v2/filters/{id}/statuses", s.scoped("write:filters", s.withFilter(s.addFilterStatus)))
	// A keyword or status by its own id: Mastodon's routes are
	// /api/v2/filters/keywords/:id and /api/v2/filters/statuses/:id (what
	// masto.js calls); filter_keywords and filter_statuses, the controllers'
	// names, answer too.
	for _, prefix := range []string{"/v2/filters/keywords/", "/v2/filter_keywords/"} {
		r.Get(prefix+"{id}", s.scoped("read:filters", s.getFilterKeyword))
		r.Put(prefix+"{id}", s.scoped("write:filters", s.updateFilterKeyword))
		r.Delete(prefix+"{id}", s.scoped("write:filters", s.deleteFilterKeyword))
	}
	for _, prefix := range []string{"/v2/filters/statuses/", "/v2/filter_statuses/"} {
		r.Get(prefix+"{id}", s.scoped("read:filters", s.getFilterStatus))
		r.Delete(prefix+"{id}", s.scoped("write:filters", s.deleteFilterStatus))
	}
	r.Get("/v1/filters", s.scoped("read:filters", s.filtersV1))
	r.Post("/v1/filters", s.scoped("write:filters", s.createFilterV1))
	r.Get("/v1/filters/{id}", s.scoped("read:filters", s.getFilterV1))
	r.Put("/v1/filters/{id}", s.scoped("write:filters", s.updateFilterV1))
	r.Delete("/v1/filters/{id}", s.scoped("write:filters", s.deleteFilterV1))
}

// pathID reads the id in the path; a malformed one names no record.
func pathID(r *http.Request) (int64, error) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok || n == 0 {
		return 0, starling.ErrNotFound
	}
	return n, nil
}

type filterHandler func(http.ResponseWriter, *http.Request, *starling.Account, *starling.Filter)

// withFilter loads the viewer's filter named in the path; another's is
// not found.
func (s *Server) withFilter(h filterHandler) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		n, err := pathID(r)
		var f *starling.Filter
		if err == nil {
			f, err = s.Store.FilterByID(r.Context(), me.ID, n)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, me, f)
	}
}

// filtersV2 is GET /api/v2/filters.
func (s *Server) filtersV2(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	all, err := s.Store.Filters(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]Filter, 0, len(all))
	for _, f := range all {
		out = append(out, renderFilter(f))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getFilter(w http.ResponseWriter, r *http.Request, _ *starling.Account, f *starling.Filter) {
	writeJSON(w, http.StatusOK, renderFilter(f))
}

// createFilter is POST /api/v2/filters: title, context[], filter_action,
// expires_in and keywords_attributes[] (keyword, whole_word).
func (s *Server) createFilter(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	in, ok := s.readFilterInput(w, r)
	if !ok {
		return
	}
	f := &starling.Filter{AccountID: me.ID, Action: starling.FilterWarn}
	var edits []starling.FilterKeywordEdit
	msg := in.applyTo(f, &edits, time.Now())
	for _, e := range edits {
		if e.ID != 0 || e.Destroy {
			msg = "Keywords is invalid" // nothing to change or destroy in a new filter
		}
		f.Keywords = append(f.Keywords, starling.FilterKeyword{Keyword: e.Keyword, WholeWord: e.WholeWord})
	}
	if msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+msg)
		return
	}
	if err := s.Store.CreateFilter(r.Context(), f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, renderFilter(f))
}

// updateFilter is PUT /api/v2/filters/:id: what is not sent stays;
// keywords_attributes[] with an id change or (_destroy) remove that
// keyword, without one add a keyword.
func (s *Server) updateFilter(w http.ResponseWriter, r *http.Request, me *starling.Account, f *starling.Filter) {
	in, ok := s.readFilterInput(w, r)
	if !ok {
		return
	}
	var edits []starling.FilterKeywordEdit
	if msg := in.applyTo(f, &edits, time.Now()); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+msg)
		return
	}
	s.saveFilter(w, r, me, f, edits, func(f *starling.Filter) any { return renderFilter(f) })
}

// saveFilter stores f with edits and answers it as render shows it, read
// anew (edits change its keywords).
func (s *Server) saveFilter(w http.ResponseWriter, r *http.Request, me *starling.Account, f *starling.Filter,
	edits []starling.FilterKeywordEdit, render func(*starling.Filter) any) {
	if err := s.Store.UpdateFilter(r.Context(), f, edits); err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	saved, err := s.Store.FilterByID(r.Context(), me.ID, f.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, render(saved))
}

// deleteFilter is DELETE /api/v2/filters/:id.
func (s *Server) deleteFilter(w http.ResponseWriter, r *http.Request, me *starling.Account, f *starling.Filter) {
	if err := s.Store.DeleteFilter(r.Context(), me.ID, f.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, map[string]any{})
}

// filterKeywords is GET /api/v2/filters/:id/keywords.
func (s *Server) filterKeywords(w http.ResponseWriter, r *http.Request, _ *starling.Account, f *starling.Filter) {
	writeJSON(w, http.StatusOK, renderFilter(f).Keywords)
}

// addFilterKeyword is POST /api/v2/filters/:id/keywords (keyword, whole_word).
func (s *Server) addFilterKeyword(w http.ResponseWriter, r *http.Request, me *starling.Account, f *starling.Filter) {
	in, ok := s.readFilterInput(w, r)
	if !ok {
		return
	}
	k := &starling.FilterKeyword{FilterID: f.ID, WholeWord: true}
	if msg := in.keyword(k, true); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+msg)
		return
	}
	if err := s.Store.AddFilterKeyword(r.Context(), me.ID, k); err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, renderKeyword(*k))
}

// getFilterKeyword is GET /api/v2/filter_keywords/:id.
func (s *Server) getFilterKeyword(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, err := pathID(r)
	var k *starling.FilterKeyword
	if err == nil {
		k, err = s.Store.FilterKeywordByID(r.Context(), me.ID, n)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderKeyword(*k))
}

// updateFilterKeyword is PUT /api/v2/filter_keywords/:id.
func (s *Server) updateFilterKeyword(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, err := pathID(r)
	var k *starling.FilterKeyword
	if err == nil {
		k, err = s.Store.FilterKeywordByID(r.Context(), me.ID, n)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in, ok := s.readFilterInput(w, r)
	if !ok {
		return
	}
	if msg := in.keyword(k, false); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+msg)
		return
	}
	if err := s.Store.UpdateFilterKeyword(r.Context(), me.ID, k); err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, renderKeyword(*k))
}

// deleteFilterKeyword is DELETE /api/v2/filter_keywords/:id.
func (s *Server) deleteFilterKeyword(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, err := pathID(r)
	if err == nil {
		err = s.Store.DeleteFilterKeyword(r.Context(), me.ID, n)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, map[string]any{})
}

// filterStatuses is GET /api/v2/filters/:id/statuses.
func (s *Server) filterStatuses(w http.ResponseWriter, r *http.Request, _ *starling.Account, f *starling.Filter) {
	writeJSON(w, http.StatusOK, renderFilter(f).Statuses)
}

// addFilterStatus is POST /api/v2/filters/:id/statuses (status_id): a
// status the viewer may see.
func (s *Server) addFilterStatus(w http.ResponseWriter, r *http.Request, me *starling.Account, f *starling.Filter) {
	in, ok := s.readFilterInput(w, r)
	if !ok {
		return
	}
	n, ok := idParam(in.get("status_id"))
	if !ok || n == 0 {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: Status can't be blank")
		return
	}
	st, err := s.Store.StatusByID(r.Context(), n)
	if err == nil && !s.canSee(r, me, st) {
		err = starling.ErrNotFound
	}
	fs := &starling.FilterStatus{FilterID: f.ID, StatusID: n}
	if err == nil {
		err = s.Store.AddFilterStatus(r.Context(), me.ID, fs)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, renderFilterStatus(*fs))
}

// getFilterStatus is GET /api/v2/filter_statuses/:id.
func (s *Server) getFilterStatus(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, err := pathID(r)
	var fs *starling.FilterStatus
	if err == nil {
		fs, err = s.Store.FilterStatusByID(r.Context(), me.ID, n)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderFilterStatus(*fs))
}

// deleteFilterStatus is DELETE /api/v2/filter_statuses/:id.
func (s *Server) deleteFilterStatus(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, err := pathID(r)
	if err == nil {
		err = s.Store.DeleteFilterStatus(r.Context(), me.ID, n)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, map[string]any{})
}

// The v1 API sees each keyword as a filter of its own, as Mastodon maps
// it: the keyword's id, phrase and whole_word, its filter's context and
// expiry, irreversible for hide.

// filtersV1 is GET /api/v1/filters.
func (s *Server) filtersV1(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	all, err := s.Store.Filters(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []V1Filter{}
	for _, f := range all {
		for _, k := range f.Keywords {
			out = append(out, renderV1Filter(f, k))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// v1Filter loads the keyword named in the path and its filter.
func (s *Server) v1Filter(r *http.Request, me *starling.Account) (*starling.Filter, *starling.FilterKeyword, error) {
	n, err := pathID(r)
	if err != nil {
		return nil, nil, err
	}
	k, err := s.Store.FilterKeywordByID(r.Context(), me.ID, n)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.Store.FilterByID(r.Context(), me.ID, k.FilterID)
	return f, k, err
}

// getFilterV1 is GET /api/v1/filters/:id.
func (s *Server) getFilterV1(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	f, k, err := s.v1Filter(r, me)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderV1Filter(f, *k))
}

// createFilterV1 is POST /api/v1/filters (phrase, context[],
// irreversible, whole_word, expires_in): a filter titled by its phrase
// with that one keyword.
func (s *Server) createFilterV1(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	in, ok := s.readFilterInput(w, r)
	if !ok {
		return
	}
	in.v1()
	f := &starling.Filter{AccountID: me.ID, Action: starling.FilterWarn}
	k := starling.FilterKeyword{WholeWord: true}
	in.set["title"] = []string{in.get("phrase")}
	msg := in.applyTo(f, nil, time.Now())
	if msg == "" {
		msg = in.keywordFrom("phrase", &k, true)
	}
	if msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+msg)
		return
	}
	f.Keywords = []starling.FilterKeyword{k}
	if err := s.Store.CreateFilter(r.Context(), f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, renderV1Filter(f, f.Keywords[0]))
}

// updateFilterV1 is PUT /api/v1/filters/:id. As on Mastodon, the filter's
// own settings (context, expiry, irreversible) may change only while it has
// this one keyword.
func (s *Server) updateFilterV1(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	f, k, err := s.v1Filter(r, me)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in, ok := s.readFilterInput(w, r)
	if !ok {
		return
	}
	in.v1()
	before := renderFilter(f).FilterSummary
	if msg := in.applyTo(f, nil, time.Now()); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+msg)
		return
	}
	after := filterSummary(f)
	changed := !slices.Equal(before.Context, after.Context) || before.FilterAction != after.FilterAction ||
		(before.ExpiresAt == nil) != (after.ExpiresAt == nil) || (before.ExpiresAt != nil && *before.ExpiresAt != *after.ExpiresAt)
	if changed && len(f.Keywords) > 1 {
		writeError(w, http.StatusUnprocessableEntity, "These parameters cannot be changed from this application "+
			"because they apply to more than one filter keyword. Use a more recent application or the web interface.")
		return
	}
	if msg := in.keywordFrom("phrase", k, false); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+msg)
		return
	}
	edits := []starling.FilterKeywordEdit{{ID: k.ID, Keyword: k.Keyword, WholeWord: k.WholeWord}}
	s.saveFilter(w, r, me, f, edits, func(f *starling.Filter) any {
		return renderV1Filter(f, *k)
	})
}

// deleteFilterV1 is DELETE /api/v1/filters/:id: the keyword goes, and its
// filter with it when nothing else is left in it (a v1 client could
// neither see nor delete the empty filter).
func (s *Server) deleteFilterV1(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	f, k, err := s.v1Filter(r, me)
	if err == nil {
		if len(f.Keywords) <= 1 && len(f.Statuses) == 0 {
			err = s.Store.DeleteFilter(r.Context(), me.ID, f.ID)
		} else {
			err = s.Store.DeleteFilterKeyword(r.Context(), me.ID, k.ID)
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.filters.forget(me.ID)
	writeJSON(w, http.StatusOK, map[string]any{})
}
