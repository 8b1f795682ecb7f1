package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAPIErrors checks that bad input gets a Mastodon-style JSON error with
// a fitting status, and changes nothing.
func TestAPIErrors(t *testing.T) {
	a := startInstance(t, "A")
	alice := a.user("alice")
	readOnly := must(adminOf(a).CreateToken(context.Background(), "alice", "read"))
	long := strings.Repeat("x", 501)
	tests := []struct {
		name, method, path, token string
		form                      url.Values
		want                      int
	}{
		{"no token", "GET", "/api/v1/timelines/home", "", nil, http.StatusUnauthorized},
		{"bad token", "GET", "/api/v1/timelines/home", "nope", nil, http.StatusUnauthorized},
		{"missing scope", "POST", "/api/v1/statuses", readOnly, url.Values{"status": {"hi"}}, http.StatusForbidden},
		{"empty status", "POST", "/api/v1/statuses", alice, url.Values{"status": {"  "}}, http.StatusUnprocessableEntity},
		{"status too long", "POST", "/api/v1/statuses", alice, url.Values{"status": {long}}, http.StatusUnprocessableEntity},
		{"bad visibility", "POST", "/api/v1/statuses", alice, url.Values{"status": {"hi"}, "visibility": {"everyone"}}, http.StatusUnprocessableEntity},
		{"unknown status", "GET", "/api/v1/statuses/12345", alice, nil, http.StatusNotFound},
		{"malformed id", "GET", "/api/v1/statuses/abc", alice, nil, http.StatusNotFound},
		{"delete unknown", "DELETE", "/api/v1/statuses/12345", alice, nil, http.StatusNotFound},
		{"bad limit", "GET", "/api/v1/timelines/home?limit=-3", alice, nil, http.StatusBadRequest},
		{"bad max_id", "GET", "/api/v1/timelines/home?max_id=x", alice, nil, http.StatusBadRequest},
		{"follow unknown", "POST", "/api/v1/accounts/999/follow", alice, url.Values{}, http.StatusNotFound},
		{"lookup without acct", "GET", "/api/v1/accounts/lookup", alice, nil, http.StatusBadRequest},
		{"lookup unknown", "GET", "/api/v1/accounts/lookup?acct=nobody", alice, nil, http.StatusNotFound},
		{"bad relationship id", "GET", "/api/v1/accounts/relationships?id[]=x", alice, nil, http.StatusBadRequest},
		{"search without q", "GET", "/api/v2/search", alice, nil, http.StatusBadRequest},
		{"webfinger without resource", "GET", "/.well-known/webfinger", "", nil, http.StatusBadRequest},
		{"webfinger other host", "GET", "/.well-known/webfinger?resource=acct:alice@elsewhere.test", "", nil, http.StatusNotFound},
		{"unknown actor", "GET", "/users/nobody", "", nil, http.StatusNotFound},
		{"GET on inbox", "GET", "/inbox", "", nil, http.StatusMethodNotAllowed},
		{"unknown route", "GET", "/api/v1/nothing", alice, nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.form != nil {
				body = strings.NewReader(tt.form.Encode())
			}
			req := must(http.NewRequest(tt.method, a.base+tt.path, body))
			if tt.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp := must(http.DefaultClient.Do(req))
			defer resp.Body.Close()
			var e map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("status %d, body is not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d (%v)", resp.StatusCode, tt.want, e)
			}
			if msg, _ := e["error"].(string); msg == "" {
				t.Errorf("no error message: %v", e)
			}
		})
	}
	var home []any
	a.mustCall("GET", "/api/v1/timelines/home", alice, nil, &home)
	if len(home) != 0 {
		t.Errorf("bad requests left %d statuses behind", len(home))
	}
}

// TestAPIRefusesNULAndInvalidUTF8: PostgreSQL cannot hold NUL in text and
// refuses invalid UTF-8, so such input used to reach it and answer 500.
// Each must be a client error with a Mastodon-style JSON body: 422 for a
// status's text (a validation failure, as Mastodon), 404 for a path that
// names no record, 400 for any other parameter.
func TestAPIRefusesNULAndInvalidUTF8(t *testing.T) {
	a := startInstance(t, "A")
	alice := a.user("alice")
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name, method, path string
		form               url.Values
		json               string
		want               int
	}{
		{"tag timeline NUL", "GET", "/api/v1/timelines/tag/%00", nil, "", http.StatusNotFound},
		{"tag timeline NUL inside", "GET", "/api/v1/timelines/tag/a%00b", nil, "", http.StatusNotFound},
		{"tag timeline invalid UTF-8", "GET", "/api/v1/timelines/tag/%ff", nil, "", http.StatusNotFound},
		{"tag timeline truncated UTF-8", "GET", "/api/v1/timelines/tag/caf%c3", nil, "", http.StatusNotFound},
		{"lookup NUL", "GET", "/api/v1/accounts/lookup?acct=%00", nil, "", http.StatusBadRequest},
		{"lookup NUL host", "GET", "/api/v1/accounts/lookup?acct=bob@%00", nil, "", http.StatusBadRequest},
		{"lookup invalid UTF-8", "GET", "/api/v1/accounts/lookup?acct=%ff", nil, "", http.StatusBadRequest},
		{"status with NUL", "POST", "/api/v1/statuses", form("status", "a\x00b"), "", http.StatusUnprocessableEntity},
		{"status invalid UTF-8", "POST", "/api/v1/statuses", form("status", "caf\xc3"), "", http.StatusUnprocessableEntity},
		{"status JSON with NUL", "POST", "/api/v1/statuses", nil, `{"status":"a\u0000b"}`, http.StatusUnprocessableEntity},
		{"spoiler with NUL", "POST", "/api/v1/statuses", form("status", "hi", "spoiler_text", "\x00"), "", http.StatusUnprocessableEntity},
		{"visibility with NUL", "POST", "/api/v1/statuses", form("status", "hi", "visibility", "public\x00"), "", http.StatusUnprocessableEntity},
		{"in_reply_to_id with NUL", "POST", "/api/v1/statuses", form("status", "hi", "in_reply_to_id", "1\x00"), "", http.StatusNotFound},
		{"in_reply_to_id junk", "POST", "/api/v1/statuses", form("status", "hi", "in_reply_to_id", "12abc"), "", http.StatusNotFound},
		{"block domain NUL", "POST", "/api/v1/domain_blocks", form("domain", "a\x00b"), "", http.StatusBadRequest},
		{"block domain invalid UTF-8", "POST", "/api/v1/domain_blocks", form("domain", "a\xffb"), "", http.StatusBadRequest},
		{"unblock domain NUL", "DELETE", "/api/v1/domain_blocks?domain=a%00b", nil, "", http.StatusBadRequest},
		{"search NUL", "GET", "/api/v2/search?q=%00", nil, "", http.StatusBadRequest},
		{"search acct NUL resolve", "GET", "/api/v2/search?resolve=true&q=a%00@b.test", nil, "", http.StatusBadRequest},
		{"search invalid UTF-8", "GET", "/api/v2/search?q=%ff%fe", nil, "", http.StatusBadRequest},
		{"max_id NUL", "GET", "/api/v1/timelines/home?max_id=1%00", nil, "", http.StatusBadRequest},
		{"relationships NUL", "GET", "/api/v1/accounts/relationships?id[]=%00", nil, "", http.StatusBadRequest},
		{"query key NUL", "GET", "/api/v1/timelines/public?%00=1", nil, "", http.StatusBadRequest},
		{"public local invalid UTF-8", "GET", "/api/v1/timelines/public?local=%ff", nil, "", http.StatusBadRequest},
		{"status id NUL", "GET", "/api/v1/statuses/1%00", nil, "", http.StatusNotFound},
		{"status id junk", "GET", "/api/v1/statuses/12abc", nil, "", http.StatusNotFound},
		{"status id overflow", "GET", "/api/v1/statuses/99999999999999999999", nil, "", http.StatusNotFound},
		{"account id invalid UTF-8", "GET", "/api/v1/accounts/%ff", nil, "", http.StatusNotFound},
		{"account statuses id NUL", "GET", "/api/v1/accounts/%00/statuses", nil, "", http.StatusNotFound},
		{"follow id junk", "POST", "/api/v1/accounts/1x/follow", form(), "", http.StatusNotFound},
		{"notification id NUL", "GET", "/api/v1/notifications/%00", nil, "", http.StatusNotFound},
		{"hashtag stream NUL", "GET", "/api/v1/streaming/hashtag?tag=%00", nil, "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.form != nil {
				body = strings.NewReader(tt.form.Encode())
			} else if tt.json != "" {
				body = strings.NewReader(tt.json)
			}
			req := must(http.NewRequest(tt.method, a.base+tt.path, body))
			switch {
			case tt.form != nil:
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case tt.json != "":
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer "+alice)
			resp := must(http.DefaultClient.Do(req))
			defer resp.Body.Close()
			var e map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("status %d, body is not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d (%v)", resp.StatusCode, tt.want, e)
			}
			if msg, _ := e["error"].(string); msg == "" {
				t.Errorf("no error message: %v", e)
			}
		})
	}
}
