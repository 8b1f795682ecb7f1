package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/starling-social/starling/api"
)

// TestPublicPages: every URL a client hands a person opens: the profile
// and post pages (HTML with OpenGraph and an ActivityPub alternate, or
// the ActivityPub document when that is asked for), and the default
// avatar and header images.
func TestPublicPages(t *testing.T) {
	a := startInstance(t, "A")
	alice := a.user("alice")
	a.mustCall("PATCH", "/api/v1/accounts/update_credentials", alice, url.Values{"display_name": {"Alice <3"}, "note": {"Hello & welcome"}}, nil)
	var public, private api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"A public <thought>"}}, &public)
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"followers only"}, "visibility": {"private"}}, &private)
	var me api.Account
	a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)

	get := func(rawURL, accept string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", rawURL, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	html := "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8" // a browser's
	ap := "application/activity+json"
	for _, tt := range []struct {
		name, url, accept string
		code              int
		ctype             string
		contains          []string
	}{
		{"profile page", me.URL, html, 200, "text/html", []string{"<h1>Alice &lt;3</h1>", `property="og:title"`,
			`rel="alternate" type="application/activity+json" href="` + a.base + `/users/alice"`, "Hello &amp; welcome"}},
		{"profile as ActivityPub", me.URL, ap, 200, "application/activity+json", []string{`"id":"` + a.base + `/users/alice"`}},
		{"post page", public.URL, html, 200, "text/html", []string{"A public &lt;thought&gt;", `property="og:type" content="article"`}},
		{"post as ActivityPub", public.URL, `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`, 200,
			"application/activity+json", []string{`"type":"Note"`}},
		{"followers-only post page", a.base + "/@alice/" + private.ID, html, 404, "text/html", nil},
		{"unknown account", a.base + "/@nobody", html, 404, "text/html", nil},
		{"unknown post", a.base + "/@alice/123", html, 404, "text/html", nil},
		{"malformed post id", a.base + "/@alice/x", html, 404, "text/html", nil},
		{"default avatar", me.Avatar, "", 200, "image/png", nil},
		{"default header", me.Header, "", 200, "image/png", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, ctype, body := get(tt.url, tt.accept)
			if code != tt.code || !strings.HasPrefix(ctype, tt.ctype) {
				t.Fatalf("GET %s: %d %s, want %d %s", tt.url, code, ctype, tt.code, tt.ctype)
			}
			for _, want := range tt.contains {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s lacks %q in:\n%.1500s", tt.url, want, body)
				}
			}
		})
	}
}
