package api

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestHasScope(t *testing.T) {
	tests := []struct {
		granted, want string
		ok            bool
	}{
		{"read", "read:statuses", true},
		{"read:statuses", "read:statuses", true},
		{"read:accounts", "read:statuses", false},
		{"write", "read:statuses", false},
		{"read write", "write:statuses", true},
		{"follow", "write:follows", true},
		{"follow", "write:statuses", false},
		{"admin:read", "admin:read:accounts", true},
		{"admin:read", "admin:write:accounts", false},
		{"read", "admin:read", false},
		{"", "read", false},
		{"profile", "profile", true},
		{"read", "profile", true},
		{"read:accounts", "profile", true},
		{"read:statuses", "profile", false},
		{"profile", "read:accounts", false},
	}
	for _, tt := range tests {
		if got := hasScope(strings.Fields(tt.granted), tt.want); got != tt.ok {
			t.Errorf("hasScope(%q, %q) = %v", tt.granted, tt.want, got)
		}
	}
}

func TestGrantedScopes(t *testing.T) {
	tests := []struct {
		requested, allowed, want string
		ok                       bool
	}{
		{"", "read write", "read", true},
		{"read write", "read write follow", "read write", true},
		{"read:statuses", "read", "read:statuses", true},
		{"write", "read", "", false},
		{"read nonsense", "read", "", false},
	}
	for _, tt := range tests {
		got, ok := grantedScopes(tt.requested, tt.allowed)
		if got != tt.want || ok != tt.ok {
			t.Errorf("grantedScopes(%q, %q) = %q, %v", tt.requested, tt.allowed, got, ok)
		}
	}
}

func TestPKCE(t *testing.T) {
	verifier := strings.Repeat("a", 43)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	if !pkceMatches(challenge, verifier) {
		t.Fatal("the right verifier does not match")
	}
	for _, v := range []string{"", strings.Repeat("a", 42), strings.Repeat("b", 43), challenge} {
		if pkceMatches(challenge, v) {
			t.Errorf("verifier %q matches", v)
		}
	}
}

func TestCheckRedirectURI(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://app.example/cb":    true,
		"http://localhost:3000/cb":  true,
		"myapp://oauth-callback":    true,
		"urn:ietf:wg:oauth:2.0:oob": true,
		"/relative":                 false,
		"https://app.example/#x":    false,
		"https:///nohost":           false,
		"not a uri":                 false,
	} {
		if got := checkRedirectURI(raw) == ""; got != ok {
			t.Errorf("checkRedirectURI(%q) ok = %v", raw, got)
		}
	}
}

func TestLoginLimiter(t *testing.T) {
	var l loginLimiter
	for range loginFailsPerLogin {
		if !l.allowFailures("account:1") {
			t.Fatal("limited too early")
		}
		l.failed("account:1")
	}
	if l.allowFailures("account:1") {
		t.Fatal("not limited after the failures")
	}
	if !l.allowFailures("account:2") {
		t.Fatal("another account limited")
	}
	for range loginAttemptsPerIP {
		if !l.allow("192.0.2.1") {
			t.Fatal("IP limited too early")
		}
	}
	if l.allow("192.0.2.1") || !l.allow("192.0.2.2") {
		t.Fatal("IP limit")
	}
}
