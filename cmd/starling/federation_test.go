package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
)

// TestFederation is the walking skeleton end to end: three servers on
// loopback, each with its own PostgreSQL database and NATS, talking only
// signed HTTP.
func TestFederation(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	c := startInstance(t, "C")
	alice := a.user("alice")
	bob, dave := b.user("bob"), b.user("dave")
	carol := c.user("carol")

	aliceAcct := "alice@" + a.cfg.Domain
	for _, f := range []struct {
		in    *instance
		token string
	}{{b, bob}, {b, dave}, {c, carol}} {
		f.in.follow(f.token, f.in.resolve(f.token, aliceAcct))
	}

	// A sees three accepted followers, and lookup finds alice on B.
	var me api.Account
	a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
	if me.FollowersCount != 3 {
		t.Errorf("alice has %d followers, want 3", me.FollowersCount)
	}
	var found api.Account
	b.mustCall("GET", "/api/v1/accounts/lookup?acct="+url.QueryEscape(aliceAcct), bob, nil, &found)
	if found.Acct != aliceAcct {
		t.Errorf("lookup on B: acct %q, want %q", found.Acct, aliceAcct)
	}

	var post api.Status
	posted := time.Now()
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"Hello, fediverse <3"}}, &post)
	if post.Content != "<p>Hello, fediverse &lt;3</p>" || post.Visibility != "public" {
		t.Errorf("posted status: content %q visibility %q", post.Content, post.Visibility)
	}
	readers := []struct {
		in          *instance
		name, token string
	}{{a, "alice", alice}, {b, "bob", bob}, {b, "dave", dave}, {c, "carol", carol}}
	for _, r := range readers {
		waitFor(t, 5*time.Second-time.Since(posted), "the post in "+r.name+"'s home timeline", func() bool {
			return r.in.home(r.token, post.URI) > 0
		})
	}
	t.Logf("post reached every home timeline in %s", time.Since(posted))
	for _, r := range readers {
		if n := r.in.home(r.token, post.URI); n != 1 {
			t.Errorf("%s's home timeline holds the post %d times, want 1", r.name, n)
		}
	}

	// One delivery to B's shared inbox for bob and dave together; give a
	// duplicate time to show up before counting.
	time.Sleep(300 * time.Millisecond)
	create := post.URI + "/activity"
	if posts, _ := b.inbox.count(create); posts != 1 {
		t.Errorf("B received the Create %d times, want exactly 1", posts)
	}
	if posts, _ := c.inbox.count(create); posts != 1 {
		t.Errorf("C received the Create %d times, want exactly 1", posts)
	}

	// The status is dereferenceable at its id.
	req := must(http.NewRequest("GET", post.URI, nil))
	req.Header.Set("Accept", "application/activity+json")
	resp := must(http.DefaultClient.Do(req))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/activity+json; charset=utf-8" {
		t.Errorf("GET %s: %d %s", post.URI, resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// Deleting removes it everywhere.
	a.mustCall("DELETE", "/api/v1/statuses/"+post.ID, alice, nil, nil)
	for _, r := range readers {
		waitFor(t, 5*time.Second, "the post gone from "+r.name+"'s home timeline", func() bool {
			return r.in.home(r.token, post.URI) == 0
		})
	}
	if code := a.call("GET", "/api/v1/statuses/"+post.ID, alice, nil, nil); code != http.StatusNotFound {
		t.Errorf("GET deleted status: %d, want 404", code)
	}

	// Unfollow sends Undo: A drops carol from alice's followers.
	var rel api.Relationship
	c.mustCall("POST", "/api/v1/accounts/"+c.resolve(carol, aliceAcct)+"/unfollow", carol, url.Values{}, &rel)
	if rel.Following || rel.Requested {
		t.Errorf("after unfollow: %+v", rel)
	}
	waitFor(t, 5*time.Second, "alice to lose carol as a follower", func() bool {
		a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
		return me.FollowersCount == 2
	})
}
