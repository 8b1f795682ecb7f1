package api

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// validText reports whether s can be stored and compared as text:
// PostgreSQL refuses NUL in text and any invalid UTF-8, and answers such
// input with an error that is ours (500), not the client's.
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// paramError is a parameter whose name or value is not valid text.
type paramError struct{ name string }

func (e *paramError) Error() string {
	return "Invalid parameter " + strconv.QuoteToASCII(e.name) + ": it must be UTF-8 text without NUL characters"
}

// checkValues returns a *paramError for the first name or value of v that
// is not valid text.
func checkValues(v url.Values) error {
	for k, vals := range v {
		if !validText(k) {
			return &paramError{name: k}
		}
		for _, val := range vals {
			if !validText(val) {
				return &paramError{name: k}
			}
		}
	}
	return nil
}

// params reads a request's parameters the ways Mastodon clients send them:
// query string, form, multipart form, or a JSON object. A name or value
// that is not valid text is a *paramError.
func params(r *http.Request) (url.Values, error) {
	v, err := readParams(r)
	if err == nil {
		err = checkValues(v)
	}
	return v, err
}

func readParams(r *http.Request) (url.Values, error) {
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
				for i, e := range x {
					if m, ok := e.(map[string]any); ok { // fields_attributes: [{"name": …, "value": …}]
						setNested(v, k+"["+strconv.Itoa(i)+"]", m)
						continue
					}
					v.Add(k+"[]", fmt.Sprint(e))
				}
			case map[string]any: // markers: {"home": {"last_read_id": "1"}}
				setNested(v, k, x)
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

// setNested flattens a JSON object under prefix as Rails reads form keys:
// {"home": {"last_read_id": "1"}} is home[last_read_id]=1.
func setNested(v url.Values, prefix string, m map[string]any) {
	for k, e := range m {
		switch x := e.(type) {
		case nil:
		case map[string]any:
			setNested(v, prefix+"["+k+"]", x)
		default:
			v.Set(prefix+"["+k+"]", fmt.Sprint(x))
		}
	}
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
