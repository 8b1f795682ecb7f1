package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/starling-social/starling/store"
)

// Page sizes, as on Mastodon.
const (
	defaultPageSize = 20
	maxPageSize     = 40
)

func pageParams(q url.Values) (store.Page, error) {
	var p store.Page
	var ok bool
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"max_id", &p.MaxID}, {"since_id", &p.SinceID}, {"min_id", &p.MinID}} {
		if *f.dst, ok = idParam(q.Get(f.name)); !ok {
			return p, fmt.Errorf("%s must be an id", f.name)
		}
	}
	p.Limit = defaultPageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return p, fmt.Errorf("limit must be a positive number")
		}
		p.Limit = min(n, maxPageSize)
	}
	return p, nil
}

func (s *Server) homeTimeline(w http.ResponseWriter, r *http.Request, me *store.Account) {
	p, err := pageParams(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.Store.HomeFeed(r.Context(), me.ID, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]*Status, 0, len(page))
	accounts := map[int64]*Account{}
	for _, st := range page {
		out = append(out, s.status(r.Context(), st, accounts))
	}
	if len(page) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, r.URL.Query(), page[len(page)-1].ID, page[0].ID)
	}
	writeJSON(w, http.StatusOK, out)
}

// setLink writes Mastodon's pagination Link header: next pages older
// entries (max_id of the last), prev newer ones (min_id of the first).
func setLink(w http.ResponseWriter, base string, q url.Values, oldest, newest int64) {
	link := func(key string, v int64) string {
		next := url.Values{}
		for k, vals := range q {
			if k != "max_id" && k != "min_id" && k != "since_id" {
				next[k] = vals
			}
		}
		next.Set(key, strconv.FormatInt(v, 10))
		return base + "?" + next.Encode()
	}
	w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="prev"`, link("max_id", oldest), link("min_id", newest)))
}
