package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/starling-social/starling/activitypub"
)

// TestInboxHostRate: a server delivering faster than --inbox-host-rate
// (here 1/s, a burst of 10) is answered 429 with Retry-After once its
// burst is spent; every activity answered 202 is stored; another server
// delivers meanwhile.
func TestInboxHostRate(t *testing.T) {
	a := startInstance(t, "A", func(c *Config) { c.InboxHostRate = 1 })
	b, c := startInstance(t, "B"), startInstance(t, "C")
	a.user("alice")
	ctx := context.Background()
	post := func(from *instance, username string, n int) int {
		t.Helper()
		acct := must(from.srv.Store.AccountByAcct(ctx, username, ""))
		key := signingKey(t, from.srv.Store, acct.ID)
		note := fmt.Sprintf("%s/statuses/%d", acct.URI, 5000+n)
		body := must(json.Marshal(map[string]any{
			"@context": activitypub.ActivityStreamsNS, "id": note + "/activity", "type": "Create", "actor": acct.URI,
			"to": []string{activitypub.Public},
			"object": map[string]any{"id": note, "type": "Note", "attributedTo": acct.URI, "content": "<p>flood " + strconv.Itoa(n) + "</p>",
				"to": []string{activitypub.Public}, "published": time.Now().UTC().Format(time.RFC3339)},
		}))
		resp, err := a.client.Do(signedPost(t, a.base+"/inbox", acct.KeyID, key, body, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		return resp.StatusCode
	}
	b.user("bob")
	c.user("carol")
	var accepted []int
	limited := 0
	for n := range 20 {
		switch code := post(b, "bob", n); code {
		case http.StatusAccepted:
			accepted = append(accepted, n)
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("delivery %d: %d", n, code)
		}
	}
	if limited == 0 || len(accepted) < 10 {
		t.Errorf("B's flood: %d accepted, %d limited; want the burst of 10 in and the rest limited", len(accepted), limited)
	}
	if code := post(c, "carol", 0); code != http.StatusAccepted {
		t.Errorf("C's delivery during B's flood: %d", code)
	}
	for _, n := range accepted {
		uri := fmt.Sprintf("%s/users/bob/statuses/%d/activity", b.base, 5000+n)
		if got, err := a.srv.Store.CountInboxActivities(ctx, uri); err != nil || got != 1 {
			t.Errorf("accepted activity %s stored %d times (%v)", uri, got, err)
		}
	}
}
