package main

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// TestRateLimits: an account over its posting limit (counted from the
// store, so every api process agrees) gets 429 with Retry-After, and
// every answer says where it stands in X-RateLimit-*; another account
// posts on. Unauthenticated API calls are limited per address.
func TestRateLimits(t *testing.T) {
	a := startInstance(t, "A", func(c *Config) { c.PostLimit = 3 })
	alice, bob := a.user("alice"), a.user("bob")
	for i := range 3 {
		code, hdr, body := a.raw("POST", "/api/v1/statuses", alice, url.Values{"status": {"post " + strconv.Itoa(i)}})
		if code != http.StatusOK || hdr.Get("X-RateLimit-Limit") != "3" || hdr.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) ||
			hdr.Get("X-RateLimit-Reset") == "" {
			t.Fatalf("post %d: %d %v %s", i, code, hdr, body)
		}
	}
	code, hdr, body := a.raw("POST", "/api/v1/statuses", alice, url.Values{"status": {"one too many"}})
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || hdr.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("fourth post: %d %v %s", code, hdr, body)
	}
	if code, _, _ := a.raw("POST", "/api/v1/statuses", bob, url.Values{"status": {"mine"}}); code != http.StatusOK {
		t.Errorf("bob's post: %d", code)
	}
	var mine []struct{ ID string }
	a.mustCall("GET", "/api/v1/accounts/"+a.accountID(alice, "alice")+"/statuses", alice, nil, &mine)
	if len(mine) != 3 {
		t.Errorf("alice has %d statuses, want 3", len(mine))
	}

	last := 0
	for range 301 {
		code, hdr, _ := a.raw("GET", "/api/v1/instance/rules", "", nil)
		if hdr.Get("X-RateLimit-Limit") != "300" {
			t.Fatalf("anonymous call without X-RateLimit-Limit: %v", hdr)
		}
		last = code
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("301st anonymous call in 5 minutes: %d, want 429", last)
	}
	if code, _, _ := a.raw("GET", "/api/v1/instance/rules", alice, nil); code != http.StatusOK {
		t.Errorf("an authenticated call from the same address: %d", code)
	}
}
