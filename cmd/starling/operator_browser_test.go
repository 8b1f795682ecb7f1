package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/starling-social/starling"
)

// TestBrowserAdminPage signs in as an admin in real headless Chromium,
// opens the admin page, sees the chart of the last hours and a failing
// host with its error and the signature standard it refused, clicks pause and sees the state change, then opens
// the host's page with its queue and failed attempts; a screenshot is
// saved.
func TestBrowserAdminPage(t *testing.T) {
	exe := chromium(t)
	r := newDeliveryRig(t, 1, func(c *Config) { c.DeliveryRetrySchedule = "3s,3s,3s,3s"; c.DeliveryBreakerFails = 20 })
	h := r.fleet.Hosts[0]
	h.Set(Behaviour{Status: http.StatusServiceUnavailable})
	r.follow(r.fleet.Hosts, 1)
	ctx := context.Background()
	if err := adminOf(r.in).SetRole(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	r.post("to a failing host")
	waitFor(t, 10*time.Second, "the host to fail", func() bool {
		hosts, err := r.in.srv.Store.FailingHosts(ctx)
		return err == nil && len(hosts) == 1
	})

	// A newer signature standard the host refused two hours ago shows
	// beside the one its deliveries are signed with.
	refusal := starling.HostSignature{Standard: "draft-cavage", Refused: "rfc9421", RefusedAt: time.Now().Add(-2 * time.Hour)}
	if err := r.in.srv.Store.SetHostSignature(ctx, h.Addr, refusal, true); err != nil {
		t.Fatal(err)
	}

	bctx := browserContext(t, exe)
	row := `tr[data-host="` + h.Addr + `"]`
	if err := chromedp.Do(bctx,
		chromedp.Navigate(r.in.base+"/admin"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("hosts")),
	); err != nil {
		t.Fatalf("sign in to the admin page: %v", err)
	}
	// The chart: the backlog sampled at start, the rates of the last hours.
	lines, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#chart polyline.backlog, #chart polyline.delivered, #chart polyline.queued').length`))
	if err != nil || lines < 3 {
		t.Errorf("the chart has %d lines (%v), want the backlog, delivered and queued", lines, err)
	}
	text := must(chromedp.Run(bctx, chromedp.Text(chromedp.CSS(row))))
	if !strings.Contains(text, "failing") || !strings.Contains(text, "503") || !strings.Contains(text, "refused rfc9421 2h") {
		t.Errorf("host row %q: want failing, its 503 and the refusal of rfc9421 2h ago", text)
	}
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(row+` button[value="pause"]`)),
		chromedp.WaitVisible(chromedp.ID("notice")),
	); err != nil {
		t.Fatalf("click pause: %v", err)
	}
	state := must(chromedp.Run(bctx, chromedp.Text(chromedp.CSS(row+` td.state`))))
	if strings.TrimSpace(state) != "paused" {
		t.Errorf("state after pause %q, want paused", state)
	}
	var got hostRow
	token := must(adminOf(r.in).CreateToken(ctx, "alice", "admin:read"))
	r.in.mustCall("GET", "/api/v1/admin/backlog/"+h.Addr, token, nil, &got)
	if !got.Paused || got.SignatureRefused != "rfc9421" || got.SignatureRefusedAt.Sub(refusal.RefusedAt).Abs() > time.Millisecond {
		t.Errorf("the API does not show the host paused and its refusal: %+v", got)
	}
	// Drill down: the host's own page, its queue and its failed attempts.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(row+` td a`)),
		chromedp.WaitVisible(chromedp.ID("attempts")),
	); err != nil {
		t.Fatalf("open the host's page: %v", err)
	}
	queue := must(chromedp.Run(bctx, chromedp.Text(chromedp.ID("queue"))))
	attempts := must(chromedp.Run(bctx, chromedp.Text(chromedp.ID("attempts"))))
	if !strings.Contains(queue, "Create") || !strings.Contains(attempts, "503") {
		t.Errorf("host page: queue %q, attempts %q; want the post queued and its 503s", queue, attempts)
	}
	shot := must(chromedp.Run(bctx, chromedp.FullScreenshot(90)))
	path := filepath.Join(t.ArtifactDir(), "admin-page.jpg")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
}
