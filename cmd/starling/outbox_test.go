package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
)

// TestMentionsAndDirectDelivery: a direct post reaches the servers of the
// accounts it mentions and no follower's server; a public reply reaches
// the replied-to author's server, with the mention resolved by WebFinger
// and notified there.
func TestMentionsAndDirectDelivery(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	c := startInstance(t, "C")
	alice := a.user("alice")
	localBob := a.user("bob") // a namesake here of the bob mentioned on B
	bob := b.user("bob")
	carol := c.user("carol")
	aliceAcct := "alice@" + a.cfg.Domain
	bobAcct := "bob@" + b.cfg.Domain
	c.follow(carol, c.resolve(carol, aliceAcct)) // carol on C follows alice; bob does not

	var dm api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"psst @" + bobAcct}, "visibility": {"direct"}}, &dm)
	create := dm.URI + "/activity"
	waitFor(t, 10*time.Second, "the direct post on B", func() bool {
		n, _ := b.inbox.count(create)
		return n == 1
	})
	var notes []struct {
		Type   string     `json:"type"`
		Status api.Status `json:"status"`
	}
	waitFor(t, 10*time.Second, "bob's mention notification", func() bool {
		b.mustCall("GET", "/api/v1/notifications", bob, nil, &notes)
		return len(notes) == 1 && notes[0].Type == "mention" && notes[0].Status.URI == dm.URI
	})
	// The mentioned may read it, and sees who it mentions (clients
	// prefill a reply with them).
	var onB api.Status
	b.mustCall("GET", "/api/v1/statuses/"+notes[0].Status.ID, bob, nil, &onB)
	for _, st := range []api.Status{dm, onB} {
		if len(st.Mentions) != 1 || st.Mentions[0].(map[string]any)["username"] != "bob" {
			t.Errorf("mentions of the direct post: %v", st.Mentions)
		}
	}

	// The local namesake was not mentioned: no notification, no access.
	var localNotes []any
	a.mustCall("GET", "/api/v1/notifications", localBob, nil, &localNotes)
	if len(localNotes) != 0 {
		t.Errorf("A's own bob got %d notifications of a post mentioning bob@B", len(localNotes))
	}
	if code := a.call("GET", "/api/v1/statuses/"+dm.ID, localBob, nil, nil); code != http.StatusNotFound {
		t.Errorf("A's own bob reads the direct post to bob@B: %d, want 404", code)
	}
	if n := a.home(localBob, dm.URI); n != 0 {
		t.Errorf("the direct post to bob@B is in A's own bob's home timeline")
	}

	// A public reply to bob's post: B gets it as the replied-to author's
	// server (bob does not follow alice), C as a follower's. alice follows
	// bob so that A has bob's post.
	a.follow(alice, a.resolve(alice, bobAcct))
	bobPost := b.post(bob, "a question")
	bobOnA := ""
	waitFor(t, 10*time.Second, "bob's post on A", func() bool {
		var page []api.Status
		a.mustCall("GET", "/api/v1/timelines/home", alice, nil, &page)
		for _, st := range page {
			if st.URI == bobPost.URI {
				bobOnA = st.ID
			}
		}
		return bobOnA != ""
	})
	var reply api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"an answer"}, "in_reply_to_id": {bobOnA}}, &reply)
	var again api.Status
	a.mustCall("GET", "/api/v1/statuses/"+reply.ID, alice, nil, &again)
	for _, st := range []api.Status{reply, again} {
		if st.InReplyToID == nil || *st.InReplyToID != bobOnA || st.InReplyToAccountID == nil {
			t.Errorf("reply's in_reply_to_id %v, want %s", st.InReplyToID, bobOnA)
		}
	}
	waitFor(t, 10*time.Second, "the reply on B and C", func() bool {
		nb, _ := b.inbox.count(reply.URI + "/activity")
		nc, _ := c.inbox.count(reply.URI + "/activity")
		return nb == 1 && nc == 1
	})

	// Nothing of the direct post ever reached C.
	time.Sleep(300 * time.Millisecond)
	if n, _ := c.inbox.count(create); n != 0 {
		t.Errorf("C (a follower's server, not mentioned) received the direct post %d times", n)
	}
}

// TestPostWithoutRemoteFollowersCompletes: posts by accounts no remote
// server follows are done at once (their audience is empty), so they
// neither clog fanout nor go to whoever follows later.
func TestPostWithoutRemoteFollowersCompletes(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	alice := a.user("alice")
	bob := b.user("bob")
	const posts = 300
	var last api.Status
	tokens := make([]string, 0, 30)
	for i := range 30 {
		tokens = append(tokens, a.user(fmt.Sprintf("u%d", i)))
	}
	for i := range posts {
		last = a.post(tokens[i%len(tokens)], fmt.Sprintf("nobody follows me %d", i))
	}
	early := a.post(alice, "before bob followed")
	ctx := context.Background()
	waitFor(t, 30*time.Second, "every post's audience recorded", func() bool {
		_, err1 := a.srv.Store.AudienceOf(ctx, "Create", last.URI)
		_, err2 := a.srv.Store.AudienceOf(ctx, "Create", early.URI)
		return err1 == nil && err2 == nil
	})
	// A Follow behind them all is sent and accepted.
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))
	later := a.post(alice, "after bob followed")
	waitFor(t, 10*time.Second, "the later post on B", func() bool {
		n, _ := b.inbox.count(later.URI + "/activity")
		return n == 1
	})
	time.Sleep(300 * time.Millisecond)
	if n, _ := b.inbox.count(early.URI + "/activity"); n != 0 {
		t.Errorf("B received a post made before bob followed %d times", n)
	}
}

// TestStreamingDeletesOnlyWhereSeen: the id of a deleted private or direct
// status goes only to the user streams of those who could see it, never
// to anonymous or unrelated connections; a public one goes everywhere.
func TestStreamingDeletesOnlyWhereSeen(t *testing.T) {
	a := startInstance(t, "A")
	alice, bob, carol, dave := a.user("alice"), a.user("bob"), a.user("carol"), a.user("dave")
	a.mustCall("POST", "/api/v1/accounts/"+a.accountID(bob, "alice")+"/follow", bob, url.Values{}, nil)
	auth := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
	streams := map[string]<-chan streamEvent{
		"anonymous public": sse(t, a.base+"/api/v1/streaming/public", nil),
		"anonymous local":  sse(t, a.base+"/api/v1/streaming/public/local", nil),
		"bob (follower)":   sse(t, a.base+"/api/v1/streaming/user", auth(bob)),
		"carol (stranger)": sse(t, a.base+"/api/v1/streaming/user", auth(carol)),
		"dave (mentioned)": sse(t, a.base+"/api/v1/streaming/user", auth(dave)),
		"carol public":     sse(t, a.base+"/api/v1/streaming/public", auth(carol)),
	}
	var private, direct api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"followers only"}, "visibility": {"private"}}, &private)
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"@dave psst"}, "visibility": {"direct"}}, &direct)
	public := a.post(alice, "for everyone")
	// dave, mentioned by his local username, is notified (the timeline
	// indexes the mention) before the posts go.
	waitFor(t, 10*time.Second, "dave's mention notification", func() bool {
		var notes []struct {
			Type   string     `json:"type"`
			Status api.Status `json:"status"`
		}
		a.mustCall("GET", "/api/v1/notifications", dave, nil, &notes)
		return len(notes) == 1 && notes[0].Type == "mention" && notes[0].Status.ID == direct.ID
	})
	for _, st := range []api.Status{private, direct, public} {
		a.mustCall("DELETE", "/api/v1/statuses/"+st.ID, alice, nil, nil)
	}
	want := map[string][]string{ // stream → ids of the deletes it may get
		"anonymous public": {public.ID},
		"anonymous local":  {public.ID},
		"bob (follower)":   {private.ID, public.ID},
		"carol (stranger)": {public.ID},
		"dave (mentioned)": {direct.ID, public.ID},
		"carol public":     {public.ID},
	}
	for name, ch := range streams {
		// The timeline builder applies the three deletes on several
		// workers, so they may come in any order: once the public one is
		// here, wait a moment more for any other.
		var got []string
		deadline := time.After(10 * time.Second)
		var grace <-chan time.Time
	wait:
		for {
			select {
			case ev := <-ch:
				if ev.Event == "delete" {
					got = append(got, ev.Payload)
					if ev.Payload == public.ID {
						grace = time.After(time.Second)
					}
				}
			case <-grace:
				break wait
			case <-deadline:
				t.Fatalf("%s: no delete of the public status within 10s (got %v)", name, got)
			}
		}
		slices.Sort(got)
		slices.Sort(want[name])
		if fmt.Sprint(got) != fmt.Sprint(want[name]) {
			t.Errorf("%s got deletes %v, want %v (private %s, direct %s, public %s)", name, got, want[name],
				private.ID, direct.ID, public.ID)
		}
	}
}

// TestEditFederates: PUT /api/v1/statuses/:id stores the new text with
// its history and sends Update(Note) to the servers that got the Create
// plus the newly mentioned; the follower's server applies it.
func TestEditFederates(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	c := startInstance(t, "C")
	alice := a.user("alice")
	bob := b.user("bob")
	c.user("carol")
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))
	post := a.post(alice, "first version")
	waitFor(t, 10*time.Second, "the post on B", func() bool { return b.home(bob, post.URI) == 1 })

	var edited api.Status
	a.mustCall("PUT", "/api/v1/statuses/"+post.ID, alice, url.Values{
		"status": {"second version, cc @carol@" + c.cfg.Domain + " #moo"}, "spoiler_text": {"cw"}}, &edited)
	if edited.EditedAt == nil || edited.SpoilerText != "cw" || !edited.Sensitive ||
		!strings.Contains(edited.Content, "second version") || !strings.Contains(edited.Content, `class="u-url mention"`) {
		t.Errorf("edited status: %+v", edited)
	}
	var history []api.StatusEdit
	a.mustCall("GET", "/api/v1/statuses/"+post.ID+"/history", alice, nil, &history)
	if len(history) != 2 || history[0].Content != "<p>first version</p>" || history[1].SpoilerText != "cw" {
		t.Errorf("history on A: %+v", history)
	}
	var source map[string]string
	a.mustCall("GET", "/api/v1/statuses/"+post.ID+"/source", alice, nil, &source)
	if source["text"] != "second version, cc @carol@"+c.cfg.Domain+" #moo" || source["spoiler_text"] != "cw" {
		t.Errorf("source: %v", source)
	}
	var again api.Status
	a.mustCall("GET", "/api/v1/statuses/"+post.ID, alice, nil, &again)
	if again.Content != edited.Content || again.EditedAt == nil {
		t.Errorf("GET after the edit: content %q edited_at %v", again.Content, again.EditedAt)
	}
	for _, st := range []api.Status{edited, again} {
		if len(st.Tags) != 1 || st.Tags[0].(map[string]any)["name"] != "moo" ||
			len(st.Mentions) != 1 || st.Mentions[0].(map[string]any)["acct"] != "carol@"+c.cfg.Domain {
			t.Errorf("after the edit: tags %v mentions %v", st.Tags, st.Mentions)
		}
	}

	// B (a follower's server) and C (newly mentioned) receive the Update,
	// and B applies it.
	var onB api.Status
	waitFor(t, 10*time.Second, "the edit applied on B", func() bool {
		var page []api.Status
		b.mustCall("GET", "/api/v1/timelines/home", bob, nil, &page)
		for _, st := range page {
			if st.URI == post.URI {
				onB = st
			}
		}
		return onB.EditedAt != nil
	})
	if !strings.Contains(onB.Content, "second version") || onB.SpoilerText != "cw" {
		t.Errorf("status on B after the edit: content %q spoiler %q", onB.Content, onB.SpoilerText)
	}
	var historyB []api.StatusEdit
	b.mustCall("GET", "/api/v1/statuses/"+onB.ID+"/history", bob, nil, &historyB)
	if len(historyB) != 2 {
		t.Errorf("history on B: %d versions, want 2", len(historyB))
	}
	waitFor(t, 10*time.Second, "the Update on C", func() bool {
		c.inbox.mu.Lock()
		defer c.inbox.mu.Unlock()
		for id, n := range c.inbox.posts {
			if strings.HasPrefix(id, post.URI+"#updates/") && n == 1 {
				return true
			}
		}
		return false
	})

	// Only the author edits.
	other := a.user("mallory")
	if code := a.call("PUT", "/api/v1/statuses/"+post.ID, other, url.Values{"status": {"mine now"}}, nil); code != http.StatusNotFound {
		t.Errorf("edit by another account: %d, want 404", code)
	}

	// Delete and redraft gives back the text as written.
	var deleted api.Status
	a.mustCall("DELETE", "/api/v1/statuses/"+post.ID, alice, nil, &deleted)
	if deleted.Text == nil || *deleted.Text != source["text"] {
		t.Errorf("deleted status's text %v, want %q", deleted.Text, source["text"])
	}
}
