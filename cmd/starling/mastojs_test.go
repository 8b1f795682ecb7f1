package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
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
	carol := in.user("carol")
	b := startInstance(t, "B")
	bob := b.user("bob")
	// A mention waiting for alice, to read among her notifications.
	in.mustCall("POST", "/api/v1/statuses", carol, url.Values{"status": {"@alice welcome"}}, nil)
	remote := "bob@" + b.cfg.Domain

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs", in.base, "alice", "correct horse battery", remote)
	cmd.Dir = mastojsDir
	cmd.Stderr = &logWriter{t: t}
	stdin := must(cmd.StdinPipe())
	stdoutPipe := must(cmd.StdoutPipe())
	if err := cmd.Start(); err != nil {
		t.Fatalf("masto.js client: %v", err)
	}
	// The client says when it follows bob; bob posts then, and the
	// client is told the post's URI to look for.
	var stdout bytes.Buffer
	var bobPost api.Status
	sc := bufio.NewScanner(stdoutPipe)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == `{"step":"followed"}` {
			b.mustCall("POST", "/api/v1/statuses", bob, url.Values{"status": {"Hello from B, followed by masto.js"}}, &bobPost)
			fmt.Fprintln(stdin, bobPost.URI)
			continue
		}
		stdout.WriteString(line)
	}
	if err := cmd.Wait(); err != nil {
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
		Home         []string
		AfterRevoke  int
		Conversation struct {
			StreamingURL string
			Theirs       struct{ Acct, Content string }
			Streamed     struct {
				Event  string
				Stream []string
				Acct   string
			}
			StreamError    string
			StreamedEvents []string
			Reply          struct {
				InReplyToID bool
				Mentions    []string
			}
			ContextAncestors []string
			Notifications    []string
			Flags            struct{ Favourited, Reblogged, Bookmarked bool }
			Bookmarks        bool
			Edited           struct {
				Content  string
				EditedAt bool
			}
			Deleted bool
		}
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
	c := got.Conversation
	switch {
	case !strings.HasPrefix(c.StreamingURL, "ws://"):
		t.Errorf("instance streaming URL %q", c.StreamingURL)
	case c.Theirs.Acct != remote || !strings.Contains(c.Theirs.Content, "Hello from B"):
		t.Errorf("bob's post in alice's home: %+v", c.Theirs)
	case c.StreamError != "" || c.Streamed.Event != "update" || !slices.Contains(c.Streamed.Stream, "user") || c.Streamed.Acct != remote:
		t.Errorf("bob's post on the user stream: %+v (error %q)", c.Streamed, c.StreamError)
	case !slices.Contains(c.StreamedEvents, "status.update") || !slices.Contains(c.StreamedEvents, "delete"):
		t.Errorf("user stream events %v lack the edit or the delete", c.StreamedEvents)
	case !c.Reply.InReplyToID || strings.Join(c.Reply.Mentions, ",") != remote:
		t.Errorf("reply %+v", c.Reply)
	case strings.Join(c.ContextAncestors, ",") != bobPost.URI:
		t.Errorf("context ancestors %v, want bob's post", c.ContextAncestors)
	case !slices.Contains(c.Notifications, "mention"):
		t.Errorf("notifications %v lack carol's mention", c.Notifications)
	case !c.Flags.Favourited || !c.Flags.Reblogged || !c.Flags.Bookmarked || !c.Bookmarks:
		t.Errorf("flags %+v, in bookmarks %v", c.Flags, c.Bookmarks)
	case !strings.Contains(c.Edited.Content, "edited") || !c.Edited.EditedAt:
		t.Errorf("edit %+v", c.Edited)
	case !c.Deleted:
		t.Error("the deleted reply can still be read")
	}
	// And B got what alice did: the reply (then its delete), the favourite
	// and the boost of bob's post.
	waitFor(t, 20*time.Second, "bob's post favourited and boosted on B", func() bool {
		var st api.Status
		b.mustCall("GET", "/api/v1/statuses/"+bobPost.ID, bob, nil, &st)
		return st.FavouritesCount == 1 && st.ReblogsCount == 1
	})
}
