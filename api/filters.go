package api

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

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
	r.Get("/v2/filter_keywords/{id}", s.scoped("read:filters", s.getFilterKeyword))
	r.Put("/v2/filter_keywords/{id}", s.scoped("write:filters", s.updateFilterKeyword))
	r.Delete("/v2/filter_keywords/{id}", s.scoped("write:filters", s.deleteFilterKeyword))
	r.Get("/v2/filters/{id}/statuses", s.scoped("read:filters", s.withFilter(s.filterStatuses)))
	r.Post("/v2/filters/{id}/statuses", s.scoped("write:filters", s.withFilter(s.addFilterStatus)))
	r.Get("/v2/filter_statuses/{id}", s.scoped("read:filters", s.getFilterStatus))
	r.Delete("/v2/filter_statuses/{id}", s.scoped("write:filters", s.deleteFilterStatus))
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

// filterInput is a filter request's parameters, from the query and a
// form or JSON body. Nested ones (keywords_attributes[][keyword]) keep
// their grouping, which url.Values cannot: the form is read in order.
type filterInput struct {
	set      map[string][]string // plain and array (name[]) parameters
	keywords []map[string]string // keywords_attributes, in order
}

func (in *filterInput) get(name string) string {
	if v := in.set[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func (in *filterInput) has(name string) bool { _, ok := in.set[name]; return ok }

func (in *filterInput) bool(name string) bool {
	return boolParam(url.Values{name: {in.get(name)}}, name)
}

// v1 maps the v1 irreversible parameter onto filter_action.
func (in *filterInput) v1() {
	if in.has("irreversible") {
		action := starling.FilterWarn
		if in.bool("irreversible") {
			action = starling.FilterHide
		}
		in.set["filter_action"] = []string{action}
	}
}

const maxKeywordLength = 512

// applyTo applies title, context, filter_action, expires_in and (into
// edits, when not nil) keywords_attributes to f, and returns Mastodon's
// validation message for what is wrong, or "".
func (in *filterInput) applyTo(f *starling.Filter, edits *[]starling.FilterKeywordEdit, now time.Time) string {
	if in.has("title") || f.ID == 0 {
		f.Title = strings.TrimSpace(in.get("title"))
	}
	if ctx, ok := in.set["context[]"]; ok || in.has("context") || f.ID == 0 {
		f.Context = nil
		for _, c := range append(ctx, in.set["context"]...) {
			if c != "" && !slices.Contains(f.Context, c) {
				f.Context = append(f.Context, c)
			}
		}
	}
	if a := in.get("filter_action"); a != "" {
		f.Action = a
	}
	if in.has("expires_in") {
		f.ExpiresAt = time.Time{}
		if e := in.get("expires_in"); e != "" {
			n, err := strconv.ParseFloat(e, 64)
			if err != nil || n <= 0 || n > 100*365*24*3600 {
				return "Expires in is not a number of seconds"
			}
			f.ExpiresAt = now.Add(time.Duration(n * float64(time.Second)))
		}
	}
	switch {
	case f.Title == "":
		return "Title can't be blank"
	case utf8.RuneCountInString(f.Title) > maxKeywordLength:
		return "Title is too long"
	case len(f.Context) == 0:
		return "Context can't be blank"
	case f.Action != starling.FilterWarn && f.Action != starling.FilterHide:
		return "Filter action is not included in the list"
	}
	for _, c := range f.Context {
		if !slices.Contains(starling.FilterContexts, c) {
			return "Context None or invalid context supplied"
		}
	}
	if edits == nil {
		return ""
	}
	for _, kw := range in.keywords {
		var e starling.FilterKeywordEdit
		var ok bool
		if e.ID, ok = idParam(kw["id"]); !ok {
			return "Keywords is invalid"
		}
		e.Destroy = boolParam(url.Values{"d": {kw["_destroy"]}}, "d")
		e.Keyword, e.WholeWord = strings.TrimSpace(kw["keyword"]), true
		if w, ok := kw["whole_word"]; ok {
			e.WholeWord = boolParam(url.Values{"w": {w}}, "w")
		}
		if e.ID != 0 && !e.Destroy {
			// A change names what changes; keep the rest.
			for _, old := range f.Keywords {
				if old.ID == e.ID {
					if _, ok := kw["keyword"]; !ok {
						e.Keyword = old.Keyword
					}
					if _, ok := kw["whole_word"]; !ok {
						e.WholeWord = old.WholeWord
					}
				}
			}
		}
		if !e.Destroy && e.Keyword == "" {
			return "Keywords keyword can't be blank"
		}
		if utf8.RuneCountInString(e.Keyword) > maxKeywordLength {
			return "Keywords keyword is too long"
		}
		*edits = append(*edits, e)
	}
	return ""
}

// keyword applies the keyword and whole_word parameters to k.
func (in *filterInput) keyword(k *starling.FilterKeyword, required bool) string {
	return in.keywordFrom("keyword", k, required)
}

func (in *filterInput) keywordFrom(name string, k *starling.FilterKeyword, required bool) string {
	if in.has(name) || required {
		k.Keyword = strings.TrimSpace(in.get(name))
	}
	if in.has("whole_word") {
		k.WholeWord = in.bool("whole_word")
	}
	switch {
	case k.Keyword == "":
		return "Keyword can't be blank"
	case utf8.RuneCountInString(k.Keyword) > maxKeywordLength:
		return "Keyword is too long"
	}
	return ""
}

// readFilterInput reads a filter request's parameters; on bad input it
// has answered 400.
func (s *Server) readFilterInput(w http.ResponseWriter, r *http.Request) (*filterInput, bool) {
	pairs, err := orderedParams(r)
	if err == nil {
		for _, p := range pairs {
			if !validText(p[0]) || !validText(p[1]) {
				err = &paramError{name: p[0]}
				break
			}
		}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return parseFilterInput(pairs), true
}

var nestedKeyRe = regexp.MustCompile(`^keywords_attributes\[(\d*)\]\[(\w+)\]$`)

// parseFilterInput groups keywords_attributes[i][field] by i and
// keywords_attributes[][field] as Rails does: a field seen again starts
// the next keyword.
func parseFilterInput(pairs [][2]string) *filterInput {
	in := &filterInput{set: map[string][]string{}}
	byIndex := map[string]int{}
	for _, p := range pairs {
		m := nestedKeyRe.FindStringSubmatch(p[0])
		if m == nil {
			in.set[p[0]] = append(in.set[p[0]], p[1])
			continue
		}
		idx, field := m[1], m[2]
		var cur map[string]string
		if idx != "" {
			i, ok := byIndex[idx]
			if !ok {
				i = len(in.keywords)
				byIndex[idx] = i
				in.keywords = append(in.keywords, map[string]string{})
			}
			cur = in.keywords[i]
		} else {
			if n := len(in.keywords); n > 0 {
				cur = in.keywords[n-1]
			}
			if _, seen := cur[field]; cur == nil || seen {
				cur = map[string]string{}
				in.keywords = append(in.keywords, cur)
			}
		}
		cur[field] = p[1]
	}
	return in
}

// orderedParams reads a request's parameters in the order they came: the
// query, then a form or JSON body (a JSON object is flattened to form
// names: {"a": [{"b": 1}]} is a[0][b]=1).
func orderedParams(r *http.Request) ([][2]string, error) {
	pairs, err := orderedForm(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	if r.Body == nil || r.Method == http.MethodGet {
		return pairs, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return nil, fmt.Errorf("form: %w", err)
		}
		for k, vals := range r.MultipartForm.Value {
			for _, v := range vals {
				pairs = append(pairs, [2]string{k, v})
			}
		}
		return pairs, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if mt == "application/json" {
		if len(strings.TrimSpace(string(body))) == 0 {
			return pairs, nil
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("body is not a JSON object: %w", err)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			pairs = flattenJSON(pairs, k, obj[k])
		}
		return pairs, nil
	}
	form, err := orderedForm(string(body))
	if err != nil {
		return nil, fmt.Errorf("form: %w", err)
	}
	return append(pairs, form...), nil
}

func orderedForm(raw string) ([][2]string, error) {
	var out [][2]string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{key, val})
	}
	return out, nil
}

func flattenJSON(pairs [][2]string, name string, v any) [][2]string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			pairs = flattenJSON(pairs, name+"["+k+"]", x[k])
		}
	case []any:
		for i, e := range x {
			if _, ok := e.(map[string]any); ok {
				pairs = flattenJSON(pairs, name+"["+strconv.Itoa(i)+"]", e)
			} else {
				pairs = flattenJSON(pairs, name+"[]", e)
			}
		}
	case nil:
		pairs = append(pairs, [2]string{name, ""})
	default:
		pairs = append(pairs, [2]string{name, fmt.Sprint(x)})
	}
	return pairs
}

// Applying filters.

type filterContextKey struct{}

// withFilterContext says which filter context the statuses a handler
// renders are read in (home, public, account, …).
func withFilterContext(ctx context.Context, fctx string) context.Context {
	return context.WithValue(ctx, filterContextKey{}, fctx)
}

// filtering runs h with statuses filtered in context fctx.
func filtering(fctx string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(withFilterContext(r.Context(), fctx)))
	}
}

func filterContextOf(ctx context.Context) string {
	fctx, _ := ctx.Value(filterContextKey{}).(string)
	return fctx
}

// compiledFilter is a filter with its keywords as regular expressions.
type compiledFilter struct {
	f        *starling.Filter
	summary  FilterSummary
	keywords []*regexp.Regexp // as f.Keywords
	statuses map[string]bool  // the rendered ids of f.Statuses
}

// viewerFilters is what a viewer's reads are filtered by: their filters
// and the members of their exclusive lists (kept out of home).
type viewerFilters struct {
	filters   []compiledFilter
	exclusive map[string]bool // rendered account ids
}

// home reports whether the viewer's home timeline is filtered at all;
// when not it is served from the render cache as it is.
func (vf *viewerFilters) home() bool { return len(vf.filters) > 0 || len(vf.exclusive) > 0 }

// keywordRegexp compiles a keyword as Mastodon's
// CustomFilterKeyword#to_regex: case-insensitive; whole_word bounds it by
// word boundaries where it starts or ends with a word character.
func keywordRegexp(k starling.FilterKeyword) *regexp.Regexp {
	q := regexp.QuoteMeta(k.Keyword)
	if k.WholeWord {
		isWord := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }
		if first, _ := utf8.DecodeRuneInString(k.Keyword); isWord(first) {
			q = `(?:^|[^\p{L}\p{N}_])` + q
		}
		if last, _ := utf8.DecodeLastRuneInString(k.Keyword); isWord(last) {
			q += `(?:$|[^\p{L}\p{N}_])`
		}
	}
	return regexp.MustCompile(`(?is)` + q)
}

var (
	htmlBreakRe = regexp.MustCompile(`(?i)<br\s*/?>|</p>`)
	htmlTagRe   = regexp.MustCompile(`<[^>]*>`)
)

// searchableText is what filters match a status by, as Mastodon's
// Status#searchable_text: the content warning and the text, without markup.
func searchableText(st *Status) string {
	text := htmlBreakRe.ReplaceAllString(st.Content, "\n")
	text = html.UnescapeString(htmlTagRe.ReplaceAllString(text, ""))
	return st.SpoilerText + "\n\n" + text
}

// match returns the filters st matches (the boosted status, for a boost),
// and whether one of them hides it in context fctx.
func (vf *viewerFilters) match(fctx string, st *Status, now time.Time) (results []FilterResult, hide bool) {
	proper := st
	if st.Reblog != nil {
		proper = st.Reblog
	}
	var text string
	for _, cf := range vf.filters {
		if !cf.f.Active(now) {
			continue
		}
		res := FilterResult{Filter: cf.summary, KeywordMatches: []string{}, StatusMatches: []string{}}
		for i, re := range cf.keywords {
			if text == "" {
				text = searchableText(proper)
			}
			if re.MatchString(text) {
				res.KeywordMatches = append(res.KeywordMatches, cf.f.Keywords[i].Keyword)
			}
		}
		if cf.statuses[proper.ID] {
			res.StatusMatches = append(res.StatusMatches, proper.ID)
		}
		if len(res.KeywordMatches) == 0 && len(res.StatusMatches) == 0 {
			continue
		}
		if cf.f.Action == starling.FilterHide && slices.Contains(cf.f.Context, fctx) {
			hide = true
		}
		results = append(results, res)
	}
	return results, hide
}

// applyFilters drops from list the statuses a filter of me hides in
// context fctx, and marks the others a filter matches with Mastodon's
// filtered (every matching filter, whatever its context, as Mastodon
// sends them: clients read each one's context and action). Me's own
// statuses are never filtered, as on Mastodon.
func (s *Server) applyFilters(ctx context.Context, me *starling.Account, fctx string, list []*Status) []*Status {
	if me == nil || len(list) == 0 {
		return list
	}
	vf := s.viewerFilters(ctx, me)
	if len(vf.filters) == 0 {
		return list
	}
	now := time.Now()
	mine := id(me.ID)
	out := list[:0]
	for _, st := range list {
		proper := st
		if st.Reblog != nil {
			proper = st.Reblog
		}
		if proper.Account != nil && proper.Account.ID == mine {
			out = append(out, st)
			continue
		}
		results, hide := vf.match(fctx, st, now)
		if hide {
			continue
		}
		if len(results) > 0 {
			st.Filtered = results
			if st.Reblog != nil {
				st.Reblog.Filtered = results
			}
		}
		out = append(out, st)
	}
	return out
}

// filterCache keeps each viewer's compiled filters for a few seconds: the
// home timeline is read far more often than filters change, and a change
// made through this process forgets the entry at once. The zero value is
// ready.
type filterCache struct {
	mu      sync.Mutex
	entries map[int64]cachedFilters
}

type cachedFilters struct {
	vf      *viewerFilters
	expires time.Time
}

const filterCacheTTL = 5 * time.Second

func (c *filterCache) forget(accountID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, accountID)
}

// viewerFilters returns me's filters and exclusive list members, from the
// cache when fresh. A failed read filters nothing, as markViewer marks
// nothing: the timeline is still served.
func (s *Server) viewerFilters(ctx context.Context, me *starling.Account) *viewerFilters {
	now := time.Now()
	c := &s.filters
	c.mu.Lock()
	e, ok := c.entries[me.ID]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.vf
	}
	vf := &viewerFilters{}
	filters, err := s.Store.Filters(ctx, me.ID)
	var members []int64
	if err == nil {
		members, err = s.Store.ExclusiveListMembers(ctx, me.ID)
	}
	if err != nil {
		s.Logger.Warn("viewer filters", "account_id", me.ID, "error", err)
		return vf
	}
	for _, f := range filters {
		if !f.Active(now) {
			continue
		}
		cf := compiledFilter{f: f, summary: filterSummary(f), statuses: map[string]bool{}}
		for _, k := range f.Keywords {
			cf.keywords = append(cf.keywords, keywordRegexp(k))
		}
		for _, st := range f.Statuses {
			cf.statuses[id(st.StatusID)] = true
		}
		vf.filters = append(vf.filters, cf)
	}
	if len(members) > 0 {
		vf.exclusive = map[string]bool{}
		for _, n := range members {
			vf.exclusive[id(n)] = true
		}
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) > 10_000 {
		c.entries = map[int64]cachedFilters{}
	}
	c.entries[me.ID] = cachedFilters{vf: vf, expires: now.Add(filterCacheTTL)}
	c.mu.Unlock()
	return vf
}

// filterNotifications drops the notifications whose status a filter of me
// hides in notifications, and marks the others' statuses.
func (s *Server) filterNotifications(ctx context.Context, me *starling.Account, list []*Notification) []*Notification {
	out := list[:0]
	for _, n := range list {
		if n.Status != nil && len(s.applyFilters(ctx, me, starling.FilterNotifications, []*Status{n.Status})) == 0 {
			continue
		}
		out = append(out, n)
	}
	return out
}

// filteredHome answers a home timeline page read as refs for a viewer with
// filters or exclusive lists: each entry rendered for them, past the render
// cache (whose entries carry no filter results), without the entries by
// members of an exclusive list (the booster's, for a boost, as Mastodon's
// FeedManager) or hidden by a filter. The Link header still bounds the
// page by the entries read, so paging goes on past what was left out.
func (s *Server) filteredHome(w http.ResponseWriter, r *http.Request, me *starling.Account, refs []starling.FeedRef, vf *viewerFilters) {
	ctx := r.Context()
	want := make([]int64, 0, 2*len(refs))
	for _, ref := range refs {
		want = append(want, ref.ID)
		if ref.ReblogOfID != 0 {
			want = append(want, ref.ReblogOfID)
		}
	}
	var loaded map[int64]*starling.Status
	if len(want) > 0 {
		var err error
		if loaded, err = s.Store.StatusesByIDs(ctx, want); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	out := make([]*Status, 0, len(refs))
	for _, ref := range refs {
		st := loaded[ref.ID]
		if st == nil || (ref.ReblogOfID != 0 && loaded[ref.ReblogOfID] == nil) {
			continue // deleted between the two reads
		}
		if vf.exclusive[id(st.AccountID)] {
			continue
		}
		rendered := s.item(ctx, &starling.Item{Status: st, ReblogOfID: ref.ReblogOfID, Reblog: loaded[ref.ReblogOfID],
			Favourited: ref.Favourited, Reblogged: ref.Reblogged})
		target := rendered
		if rendered.Reblog != nil {
			target = rendered.Reblog
		}
		rendered.Bookmarked, target.Bookmarked = ref.Bookmarked, ref.Bookmarked
		if ref.Pinned {
			pinned := true
			target.Pinned = &pinned
		}
		out = append(out, rendered)
	}
	out = s.applyFilters(ctx, me, starling.FilterHome, out)
	if len(refs) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, r.URL.Query(), refs[len(refs)-1].ID, refs[0].ID)
	}
	writeJSONOnce(w, out)
}

// filteredPayload is the payload of a status event for a's stream name:
// payload itself when a has no filters, "" when the status is to be left
// out (an exclusive list member's post on the home stream, a status a
// filter hides), else base rendered with a's filter results.
func (s *Server) filteredPayload(ctx context.Context, a *starling.Account, name string, base *Status, payload string) string {
	if a == nil || base == nil {
		return payload
	}
	vf := s.viewerFilters(ctx, a)
	if name == "user" && base.Account != nil && vf.exclusive[base.Account.ID] {
		return ""
	}
	if len(vf.filters) == 0 {
		return payload
	}
	fctx := starling.FilterPublic
	if name == "user" || strings.HasPrefix(name, "list:") {
		fctx = starling.FilterHome
	}
	st := *base // results are a's own: filter a copy
	if base.Reblog != nil {
		inner := *base.Reblog
		st.Reblog = &inner
	}
	if len(s.applyFilters(ctx, a, fctx, []*Status{&st})) == 0 {
		return ""
	}
	if st.Filtered == nil {
		return payload
	}
	b, err := json.Marshal(&st)
	if err != nil {
		return ""
	}
	return string(b)
}
