package api

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/starling-social/starling"
)

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
