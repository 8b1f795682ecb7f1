package api

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// params reads a request's parameters the ways Mastodon clients send them:
// query string, form, multipart form, or a JSON object.
func params(r *http.Request) (url.Values, error) {
	v := r.URL.Query()
	if r.Method == http.MethodGet || r.Body == nil {
		return v, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var obj map[string]any
		dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("body is not a JSON object: %w", err)
		}
		for k, val := range obj {
			switch x := val.(type) {
			case []any:
				for _, e := range x {
					v.Add(k+"[]", fmt.Sprint(e))
				}
			case nil:
			default:
				v.Set(k, fmt.Sprint(x))
			}
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return nil, fmt.Errorf("form: %w", err)
		}
		for k, vals := range r.MultipartForm.Value {
			v[k] = append(v[k], vals...)
		}
	default:
		r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("form: %w", err)
		}
		for k, vals := range r.PostForm {
			v[k] = append(v[k], vals...)
		}
	}
	return v, nil
}

func boolParam(v url.Values, name string) bool {
	switch strings.ToLower(v.Get(name)) {
	case "1", "true", "on", "yes":
		return true
	}
	return false
}

// idParam parses a Mastodon id (a decimal string); 0 when absent or bad.
func idParam(s string) (int64, bool) {
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// ids reads id[] (and plain id) values.
func ids(v url.Values, name string) ([]int64, error) {
	var out []int64
	for _, s := range append(v[name+"[]"], v[name]...) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s %q is not an id", name, s)
		}
		out = append(out, n)
	}
	return out, nil
}
