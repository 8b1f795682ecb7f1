package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/media/mediatest"
)

// chromium returns Debian's Chromium, or fails (in CI) or skips the test
// with how to install it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "browser test: no Chromium found; install Debian's package: apt-get install chromium (.ci/run does)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browserContext starts a headless Chromium with a fresh profile.
func browserContext(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		// The sandbox needs user namespaces, which CI containers (running
		// as root) do not have; the pages are our own.
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestBrowserLogin signs in through the authorize page in real headless
// Chromium: the login form, the consent page, the out-of-band code page;
// the code then buys a token that works. Forms posted without the page's
// CSRF token, from the page itself or from another site, grant nothing.
func TestBrowserLogin(t *testing.T) {
	exe := chromium(t)
	in := startInstance(t, "A")
	in.user("alice")

	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	const oob = "urn:ietf:wg:oauth:2.0:oob"
	if code := in.call("POST", "/api/v1/apps", "", url.Values{"client_name": {"Browser test"},
		"redirect_uris": {oob}, "scopes": {"read write"}}, &app); code != http.StatusOK {
		t.Fatalf("register app: %d", code)
	}
	authorize := in.base + "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
		"redirect_uri": {oob}, "scope": {"read write"}}.Encode()

	ctx := browserContext(t, exe)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(authorize),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)),
	); err != nil {
		t.Fatalf("sign in in Chromium: %v", err)
	}
	title := must(chromedp.Run(ctx, chromedp.Title()))
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[value="approve"]`)),
		chromedp.WaitVisible(chromedp.ID("authorization_code")),
	); err != nil {
		t.Fatalf("authorize in Chromium: %v", err)
	}
	code := must(chromedp.Run(ctx, chromedp.Text(chromedp.ID("authorization_code"))))
	t.Logf("consent page %q, code %d characters", title, len(code))

	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if c := in.call("POST", "/oauth/token", "", url.Values{"grant_type": {"authorization_code"}, "code": {strings.TrimSpace(code)},
		"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "redirect_uri": {oob}}, &tok); c != http.StatusOK {
		t.Fatalf("exchange the code from the page: %d", c)
	}
	var me struct{ Username string }
	in.mustCall("GET", "/api/v1/accounts/verify_credentials", tok.AccessToken, nil, &me)
	if me.Username != "alice" {
		t.Errorf("token from the browser is %q's, want alice's", me.Username)
	}

	// The consent form without its CSRF token: refused, no code. (A
	// second app: the first, already authorized, skips the consent page
	// as Mastodon does.)
	if code := in.call("POST", "/api/v1/apps", "", url.Values{"client_name": {"Browser test 2"},
		"redirect_uris": {oob}, "scopes": {"read write"}}, &app); code != http.StatusOK {
		t.Fatalf("register app: %d", code)
	}
	authorize = in.base + "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
		"redirect_uri": {oob}, "scope": {"read write"}}.Encode()
	for i, step := range []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(authorize),
		chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name="authenticity_token"]').remove()`),
		chromedp.Click(chromedp.CSS(`button[value="approve"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`button[value="approve"]`)), // the answer has come
	} {
		if err := chromedp.Do(ctx, step); err != nil {
			t.Fatalf("post the consent form without its token: step %d: %v", i, err)
		}
	}
	body := must(chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))))
	if strings.Contains(body, "Authorization code") || !strings.Contains(body, "did not come from this site") {
		t.Errorf("a consent form without its CSRF token was not refused; page: %q", body)
	}

	// Another site's page posting an approval to Starling with the
	// signed-in session's cookie attached (where the browser would send
	// it): refused too.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form id="f" method="post" action="%s/oauth/authorize">
<input name="client_id" value="%s"><input name="redirect_uri" value="%s"><input name="response_type" value="code">
<input name="scope" value="read write"><input name="decision" value="approve"></form>
<script>document.getElementById("f").submit()</script>`, in.base, app.ClientID, oob)
	}))
	defer evil.Close()
	// Chromium treats 127.0.0.1 and localhost as different sites.
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(evilURL),
		chromedp.WaitVisible(chromedp.CSS("h1")), // Starling's answer: the form went away
	); err != nil {
		t.Fatalf("cross-site form post: %v", err)
	}
	body = must(chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))))
	t.Logf("cross-site post answered: %.120q", body)
	if strings.Contains(body, "Authorization code") {
		t.Errorf("a cross-site form post was granted a code; page: %q", body)
	}
}

// TestBrowserPicture opens the page of a post with a picture in headless
// Chromium and sees the picture rendered (the screenshot is kept with
// go test -artifacts).
func TestBrowserPicture(t *testing.T) {
	exe := chromium(t)
	in := startInstance(t, "A")
	alice := in.user("alice")
	m := in.uploadReady(alice, mediatest.ExifJPEG(t, 400, 200), map[string]string{"description": "a gradient"})
	var st api.Status
	in.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"look at this"}, "media_ids[]": {m.ID}}, &st)

	ctx := browserContext(t, exe)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(st.URL),
		chromedp.WaitVisible(chromedp.CSS("img.media")),
	); err != nil {
		t.Fatalf("open %s: %v", st.URL, err)
	}
	// Loaded and decoded: a broken image has no natural size.
	w := must(chromedp.Run(ctx, chromedp.Evaluate[int](`new Promise(r => { const i = document.querySelector("img.media");
		i.complete ? r(i.naturalWidth) : i.onload = () => r(i.naturalWidth) })`, chromedp.EvalAwaitPromise)))
	alt := must(chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("img.media").alt`)))
	if w == 0 || alt != "a gradient" {
		t.Errorf("the picture on %s: natural width %d, alt %q", st.URL, w, alt)
	}
	shot := must(chromedp.Run(ctx, chromedp.FullScreenshot(90)))
	path := filepath.Join(t.ArtifactDir(), "post-with-picture.jpg")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
}
