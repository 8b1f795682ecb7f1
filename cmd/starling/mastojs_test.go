package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mastojsDir holds the masto.js client: package.json, package-lock.json, client.mjs.
const mastojsDir = "../../interop/mastojs"

// mastojsNode returns the Node binary to run the masto.js client with.
func mastojsNode(t *testing.T) string {
	return findNode(t, 20, "masto.js", filepath.Join(mastojsDir, "node_modules", "masto", "package.json"), mastojsDir)
}

// TestMastojs logs in to Starling with masto.js, an unchanged third-party
// Mastodon client library, through the whole OAuth flow, then posts a
// status, reads it back from the home timeline and revokes the token.
func TestMastojs(t *testing.T) {
	node := mastojsNode(t)
	in := startInstance(t, "A")
	in.user("alice")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs", in.base, "alice", "correct horse battery")
	cmd.Dir = mastojsDir
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &logWriter{t: t}
	if err := cmd.Run(); err != nil {
		t.Fatalf("masto.js client: %v (stdout: %s)", err, stdout.String())
	}
	t.Logf("masto.js: %s", stdout.String())
	var got struct {
		App struct {
			Name                   string
			Scopes                 []string
			ClientID, ClientSecret bool
		}
		Authorize struct {
			Redirect  string
			StateKept bool
		}
		Token struct {
			TokenType, Scope, CreatedAt string
		}
		Account struct {
			Username, Acct string
		}
		AppVerified string
		Status      struct {
			ID, Content, Visibility string
		}
		Home        []string
		AfterRevoke int
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("masto.js output %q: %v", stdout.String(), err)
	}
	switch {
	case got.App.Name != "masto.js interop" || strings.Join(got.App.Scopes, " ") != "read write follow" ||
		!got.App.ClientID || !got.App.ClientSecret:
		t.Errorf("app %+v", got.App)
	case got.Authorize.Redirect != "https://mastojs.invalid/callback" || !got.Authorize.StateKept:
		t.Errorf("authorize %+v", got.Authorize)
	case got.Token.TokenType != "Bearer" || got.Token.Scope != "read write follow" || got.Token.CreatedAt != "number":
		t.Errorf("token %+v", got.Token)
	case got.Account.Username != "alice" || got.Account.Acct != "alice":
		t.Errorf("account %+v", got.Account)
	case got.AppVerified != "masto.js interop":
		t.Errorf("apps/verify_credentials: %q", got.AppVerified)
	case got.Status.ID == "" || !strings.Contains(got.Status.Content, "Hello from masto.js") || got.Status.Visibility != "public":
		t.Errorf("status %+v", got.Status)
	case len(got.Home) == 0 || got.Home[0] != got.Status.ID:
		t.Errorf("home timeline %v lacks status %s on top", got.Home, got.Status.ID)
	case got.AfterRevoke != 401:
		t.Errorf("after revocation: %d, want 401", got.AfterRevoke)
	}
}
