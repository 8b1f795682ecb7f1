package api

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/starling-social/starling"
)

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
