package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/store/postgres/pgtest"
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

// TestEmbeddedBackup: a backup taken while posts are being written
// restores to a server that starts and shows every post committed before
// the backup began.
func TestEmbeddedBackup(t *testing.T) {
	a := startEmbedded(t, "A")
	alice := a.user("alice")
	var (
		mu        sync.Mutex
		committed []string // ids of posts whose POST had answered
		postErr   error
	)
	stop, done := make(chan struct{}), make(chan struct{})
	finish := sync.OnceFunc(func() { close(stop); <-done })
	defer finish()
	go func() { // awaited by finish
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id, err := postStatus(a, alice, fmt.Sprintf("post %d", i))
			mu.Lock()
			if err != nil {
				postErr = err
			} else {
				committed = append(committed, id)
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	before := slices.Clone(committed)
	mu.Unlock()
	file := filepath.Join(t.TempDir(), "backup.db")
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"admin", "backup", file, "--data-dir", a.cfg.DataDir, "--domain", a.cfg.Domain},
		func(string) string { return "" }, &out, &errOut); code != 0 {
		t.Fatalf("admin backup: exit %d: %s", code, errOut.String())
	}
	time.Sleep(100 * time.Millisecond) // posts go on meanwhile
	finish()
	if postErr != nil {
		t.Fatal(postErr)
	}
	if len(before) == 0 {
		t.Fatal("no post was committed before the backup")
	}
	if code := run(t.Context(), []string{"admin", "backup", file, "--data-dir", a.cfg.DataDir},
		func(string) string { return "" }, &out, &errOut); code == 0 {
		t.Error("a backup over an existing file succeeded")
	}

	restored := t.TempDir()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, DefaultDatabaseFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// The restored store belongs to A's address: B serves it as A would,
	// on a listener of its own.
	b := startEmbedded(t, "B", func(c *Config) { c.DataDir, c.Domain = restored, a.cfg.Domain })
	b.base = "http://" + b.srv.Addr()
	for _, id := range before {
		if code := b.call("GET", "/api/v1/statuses/"+id, alice, nil, nil); code != 200 {
			t.Errorf("post %s, committed before the backup: status %d on the restored server", id, code)
		}
	}
	t.Logf("%d posts committed before the backup, all restored", len(before))
}

// postStatus posts text as the token's account, from any goroutine.
func postStatus(in *instance, token, text string) (string, error) {
	req, err := http.NewRequest("POST", in.base+"/api/v1/statuses", strings.NewReader(url.Values{"status": {text}}.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var st api.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("post %q: status %d, %v", text, resp.StatusCode, err)
	}
	return st.ID, nil
}

// TestAdminBackupArgs: the file comes before or after the flags, is
// required, is never overwritten, and PostgreSQL is refused (its own tools
// back it up).
func TestAdminBackupArgs(t *testing.T) {
	dir := t.TempDir()
	out := t.TempDir()
	noEnv := func(string) string { return "" }
	for _, tt := range []struct {
		name string
		args []string
		code int
		file string
	}{
		{"no file", []string{"--data-dir", dir}, 2, ""},
		{"file first", []string{filepath.Join(out, "a.db"), "--data-dir", dir}, 0, "a.db"},
		{"file last", []string{"--data-dir", dir, filepath.Join(out, "b.db")}, 0, "b.db"},
		{"an existing file", []string{filepath.Join(out, "a.db"), "--data-dir", dir}, 1, ""},
		{"two files", []string{"--data-dir", dir, filepath.Join(out, "c.db"), filepath.Join(out, "d.db")}, 2, ""},
		{"PostgreSQL", []string{filepath.Join(out, "e.db"), "--database-url", pgtest.NewDatabaseURL(t)}, 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"admin", "backup"}, tt.args...), noEnv, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, stderr.String())
			}
			if tt.file != "" {
				if _, err := os.Stat(filepath.Join(out, tt.file)); err != nil {
					t.Errorf("the backup: %v", err)
				}
			}
		})
	}
}
