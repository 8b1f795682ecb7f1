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
