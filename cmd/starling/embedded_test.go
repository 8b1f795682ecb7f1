package main

import (
	"bytes"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
)

// TestParseDatabaseURL: --database-url chooses the store.
func TestParseDatabaseURL(t *testing.T) {
	for _, tt := range []struct {
		raw            string
		postgres, file string
		wantErr        bool
	}{
		{raw: "", file: filepath.Join("data", "starling.db")},
		{raw: "postgres://u@h:5432/db?sslmode=disable", postgres: "postgres://u@h:5432/db?sslmode=disable"},
		{raw: "postgresql://u@h/db", postgres: "postgresql://u@h/db"},
		{raw: "sqlite:///var/lib/starling/s.db", file: "/var/lib/starling/s.db"},
		{raw: "sqlite://s.db", file: "s.db"},
		{raw: "file:/tmp/s.db?mode=rwc", file: "/tmp/s.db"},
		{raw: "sqlite://", wantErr: true},
		{raw: "mysql://u@h/db", wantErr: true},
		{raw: "127.0.0.1:5432", wantErr: true},
	} {
		got, err := parseDatabaseURL(tt.raw, "data")
		if (err != nil) != tt.wantErr || got.postgresURL != tt.postgres || got.sqlitePath != tt.file {
			t.Errorf("parseDatabaseURL(%q) = %+v, %v; want postgres %q, file %q, error %v",
				tt.raw, got, err, tt.postgres, tt.file, tt.wantErr)
		}
	}
}

// TestEmbeddedServe is the README's run command on a fresh machine: no
// database URL and no NATS URL, an empty data directory. The first account
// and its token are made with the admin commands, as the README says, on
// the running server's store; then the account posts through the API and
// reads the post in its home timeline.
func TestEmbeddedServe(t *testing.T) {
	a := startEmbedded(t, "A")
	if a.srv.DB != nil || a.cfg.DatabaseURL != "" || a.cfg.NATSURL != "" {
		t.Fatalf("not embedded: database %q, nats %q", a.cfg.DatabaseURL, a.cfg.NATSURL)
	}
	admin := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--data-dir", a.cfg.DataDir, "--domain", a.cfg.Domain, "--protocol", "http", "--log-level", "warn")
		noEnv := func(string) string { return "" }
		if code := run(t.Context(), args, noEnv, &out, &errOut); code != 0 {
			t.Fatalf("starling %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
		}
		return strings.TrimSpace(out.String())
	}
	if out := admin("admin", "account", "create", "--username", "alice", "--email", "alice@example.test", "--password", "correct horse battery"); !strings.Contains(out, "/users/alice") {
		t.Errorf("account create printed %q", out)
	}
	token := admin("admin", "token", "create", "--username", "alice")

	var me api.Account
	a.mustCall("GET", "/api/v1/accounts/verify_credentials", token, nil, &me)
	if me.Username != "alice" {
		t.Fatalf("verify_credentials: %+v", me)
	}
	var post api.Status
	posted := time.Now()
	a.mustCall("POST", "/api/v1/statuses", token, url.Values{"status": {"Hello from the embedded store"}}, &post)
	waitFor(t, 5*time.Second, "the post in alice's home timeline", func() bool { return a.home(token, post.URI) == 1 })
	t.Logf("post reached the home timeline in %s", time.Since(posted))

	var got api.Status
	a.mustCall("GET", "/api/v1/statuses/"+post.ID, token, nil, &got)
	if got.Content != "<p>Hello from the embedded store</p>" || got.Account.Username != "alice" {
		t.Errorf("status read back: content %q by %q", got.Content, got.Account.Username)
	}
}

// TestEmbeddedFederation: two instances on the embedded store and embedded
// NATS follow each other over loopback HTTP, and each one's post reaches
// the other's home timeline once, and leaves it when deleted.
func TestEmbeddedFederation(t *testing.T) {
	a, b := startEmbedded(t, "A"), startEmbedded(t, "B")
	alice, bob := a.user("alice"), b.user("bob")
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))
	a.follow(alice, a.resolve(alice, "bob@"+b.cfg.Domain))

	for _, tt := range []struct {
		name           string
		from, to       *instance
		author, reader string
	}{
		{"alice to bob", a, b, alice, bob},
		{"bob to alice", b, a, bob, alice},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var post api.Status
			posted := time.Now()
			tt.from.mustCall("POST", "/api/v1/statuses", tt.author, url.Values{"status": {"Hello, " + tt.name}}, &post)
			waitFor(t, 10*time.Second, "the post in the reader's home timeline", func() bool {
				return tt.to.home(tt.reader, post.URI) > 0
			})
			t.Logf("delivered and in the home timeline in %s", time.Since(posted))
			if n := tt.to.home(tt.reader, post.URI); n != 1 {
				t.Errorf("the reader's home timeline holds the post %d times, want 1", n)
			}
			tt.from.mustCall("DELETE", "/api/v1/statuses/"+post.ID, tt.author, nil, nil)
			waitFor(t, 10*time.Second, "the post gone from the reader's home timeline", func() bool {
				return tt.to.home(tt.reader, post.URI) == 0
			})
		})
	}
}
