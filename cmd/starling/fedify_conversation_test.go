package main

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/api"
)

type fedNotification struct {
	Type   string      `json:"type"`
	Status *api.Status `json:"status"`
}

// homeStatus returns the status uri in token's home timeline, or nil.
func (in *instance) homeStatus(token, uri string) *api.Status {
	in.t.Helper()
	var page []api.Status
	in.mustCall("GET", "/api/v1/timelines/home?limit=40", token, nil, &page)
	for i := range page {
		if page[i].URI == uri {
			return &page[i]
		}
	}
	return nil
}

// notified returns token's notification of typ about the status uri, or nil.
func (in *instance) notified(token, typ, uri string) *fedNotification {
	in.t.Helper()
	var list []fedNotification
	in.mustCall("GET", "/api/v1/notifications?limit=40", token, nil, &list)
	for i := range list {
		if list[i].Type == typ && list[i].Status != nil && list[i].Status.URI == uri {
			return &list[i]
		}
	}
	return nil
}

// waitActivity waits until Fedify's inboxes accepted an activity matching cond.
func (p *fedifyPeer) waitActivity(what string, cond func(fedifyReceived) bool) fedifyReceived {
	p.t.Helper()
	var got fedifyReceived
	waitFor(p.t, 20*time.Second, "Fedify to accept "+what, func() bool {
		for _, r := range p.received() {
			if cond(r) {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// none fails if Fedify accepted an activity matching cond.
func (p *fedifyPeer) none(what string, cond func(fedifyReceived) bool) {
	p.t.Helper()
	for _, r := range p.received() {
		if cond(r) {
			p.t.Errorf("Fedify accepted %s, which it should never have received: %+v", what, r.Raw)
		}
	}
}

// iris returns an activity or object property as a list of IRIs, however
// it was sent (a string, an object with an id, or an array of either).
func iris(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case map[string]any:
		if id, ok := v["id"].(string); ok {
			return []string{id}
		}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, iris(e)...)
		}
		return out
	}
	return nil
}

// object returns the embedded object of a received activity.
func (r fedifyReceived) object() map[string]any {
	o, _ := r.Raw["object"].(map[string]any)
	return o
}

// tags returns the object's tag entries.
func tagsOf(obj map[string]any) []map[string]any {
	var out []map[string]any
	switch t := obj["tag"].(type) {
	case map[string]any:
		out = append(out, t)
	case []any:
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func hasTag(obj map[string]any, typ, href, name string) bool {
	for _, t := range tagsOf(obj) {
		if t["type"] == typ && (href == "" || t["href"] == href) && (name == "" || strings.EqualFold(t["name"].(string), name)) {
			return true
		}
	}
	return false
}

// TestFedifyConversation holds a conversation between alice on Starling and
// fedi on Fedify, in both directions, and checks every step on the side that
// receives it: follow and unfollow; public, unlisted, followers-only and
// direct posts, each arriving only where it should; a reply threaded on
// the other side; a mention that notifies; a hashtag; an edit; a delete;
// like and boost with their undos. Fedify's actions alternate between the
// two signature standards.
func TestFedifyConversation(t *testing.T) {
	peer := startFedify(t)
	a := startInstance(t, "A")
	alice, carol := a.user("alice"), a.user("carol")
	aliceURI := a.base + "/users/alice"
	fediURI := peer.actor()
	knocks := []string{"rfc9421", "draft-cavage-http-signatures-12"}
	n := 0
	knock := func() string { n++; return knocks[n%2] }
	fedify := func(path string, q url.Values) string {
		q.Set("knock", knock())
		var out struct {
			ID string `json:"id"`
		}
		if strings.HasPrefix(path, "/control/post") || strings.HasPrefix(path, "/control/like") || strings.HasPrefix(path, "/control/boost") {
			peer.control("POST", path, q, &out)
		} else {
			peer.control("POST", path, q, nil)
		}
		return out.ID
	}
	post := func(token string, form url.Values) api.Status {
		var st api.Status
		a.mustCall("POST", "/api/v1/statuses", token, form, &st)
		return st
	}
	// Each step is a subtest, so one that fails does not hide the others;
	// the instance and the peer report to the step's t meanwhile.
	step := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			at, pt := a.t, peer.t
			a.t, peer.t = t, t
			defer func() { a.t, peer.t = at, pt }()
			f(t)
		})
	}
	createOf := func(uri string) func(fedifyReceived) bool {
		return func(r fedifyReceived) bool { return r.Type == "Create" && r.Object == uri }
	}

	// Follow, both ways.
	fedi := a.resolve(alice, peer.acct())
	a.follow(alice, fedi)
	fedify("/control/follow", url.Values{"target": {aliceURI}})
	waitFor(t, 20*time.Second, "alice to have Fedify as a follower", func() bool {
		var me struct {
			FollowersCount int `json:"followers_count"`
		}
		a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
		return me.FollowersCount == 1
	})

	step("Fedify to Starling by visibility", func(t *testing.T) {
		notes := map[string]string{}
		for _, vis := range []string{"public", "unlisted", "private"} {
			notes[vis] = fedify("/control/post", url.Values{"content": {"<p>fedi " + vis + "</p>"}, "visibility": {vis}, "to": {aliceURI}})
		}
		notes["direct"] = fedify("/control/post", url.Values{"content": {"<p>fedi direct to alice</p>"}, "visibility": {"direct"}, "mention": {aliceURI}})
		for _, vis := range []string{"public", "unlisted", "private"} {
			var st *api.Status
			waitFor(t, 20*time.Second, "the "+vis+" Fedify note in alice's home", func() bool {
				st = a.homeStatus(alice, notes[vis])
				return st != nil
			})
			if st.Visibility != vis {
				t.Errorf("%s note arrived as %s", vis, st.Visibility)
			}
			// carol follows nobody: only what is public or unlisted is hers to see.
			code := a.call("GET", "/api/v1/statuses/"+st.ID, carol, nil, nil)
			if want := map[bool]int{true: 200, false: 404}[vis != "private"]; code != want {
				t.Errorf("carol reading the %s note: %d, want %d", vis, code, want)
			}
		}
		var dm *fedNotification
		waitFor(t, 20*time.Second, "alice's mention notification of the direct note", func() bool {
			dm = a.notified(alice, "mention", notes["direct"])
			return dm != nil
		})
		if dm.Status.Visibility != "direct" {
			t.Errorf("direct note arrived as %s", dm.Status.Visibility)
		}
		if code := a.call("GET", "/api/v1/statuses/"+dm.Status.ID, carol, nil, nil); code != 404 {
			t.Errorf("carol reading fedi's direct note to alice: %d, want 404", code)
		}
		// It starts a conversation of alice's with fedi, unread.
		var convs []api.Conversation
		a.mustCall("GET", "/api/v1/conversations", alice, nil, &convs)
		if len(convs) != 1 || !convs[0].Unread || len(convs[0].Accounts) != 1 || convs[0].Accounts[0].Acct != peer.acct() ||
			convs[0].LastStatus == nil || convs[0].LastStatus.URI != notes["direct"] {
			t.Errorf("alice's conversations after fedi's direct note: %+v", convs)
		}
		var public []api.Status
		a.mustCall("GET", "/api/v1/timelines/public?limit=40", carol, nil, &public)
		for _, st := range public {
			if st.URI != notes["public"] && slices.Contains([]string{notes["unlisted"], notes["private"], notes["direct"]}, st.URI) {
				t.Errorf("the public timeline shows %s (%s)", st.URI, st.Visibility)
			}
		}
	})

	step("Starling to Fedify by visibility", func(t *testing.T) {
		public := post(alice, url.Values{"status": {"alice public"}, "visibility": {"public"}})
		unlisted := post(alice, url.Values{"status": {"alice unlisted"}, "visibility": {"unlisted"}})
		private := post(alice, url.Values{"status": {"alice private"}, "visibility": {"private"}})
		toCarol := post(alice, url.Values{"status": {"@carol just for you"}, "visibility": {"direct"}})
		toFedi := post(alice, url.Values{"status": {"@" + peer.acct() + " just for you"}, "visibility": {"direct"}})

		want := map[string]struct{ to, cc string }{
			public.URI:   {activitypub.Public, aliceURI + "/followers"},
			unlisted.URI: {aliceURI + "/followers", activitypub.Public},
			private.URI:  {aliceURI + "/followers", ""},
			toFedi.URI:   {fediURI, ""},
		}
		for uri, w := range want {
			got := peer.waitActivity("alice's Create of "+uri, createOf(uri))
			obj := got.object()
			to, cc := iris(obj["to"]), iris(obj["cc"])
			if !slices.Contains(to, w.to) || (w.cc != "" && !slices.Contains(cc, w.cc)) {
				t.Errorf("%s addressed to=%v cc=%v, want %s in to and %q in cc", uri, to, cc, w.to, w.cc)
			}
			if uri != public.URI && (slices.ContainsFunc(to, activitypub.IsPublic) || (uri != unlisted.URI && slices.ContainsFunc(cc, activitypub.IsPublic))) {
				t.Errorf("%s is addressed to the public: to=%v cc=%v", uri, to, cc)
			}
		}
		if !hasTag(peer.waitActivity("the direct note", createOf(toFedi.URI)).object(), "Mention", fediURI, "") {
			t.Errorf("alice's direct note has no Mention of %s", fediURI)
		}
		if a.notified(carol, "mention", toCarol.URI) == nil {
			waitFor(t, 10*time.Second, "carol's mention notification", func() bool { return a.notified(carol, "mention", toCarol.URI) != nil })
		}
		time.Sleep(time.Second) // what was going to leak has had its chance
		peer.none("alice's direct note to carol", createOf(toCarol.URI))
	})

	step("replies and mentions", func(t *testing.T) {
		parent := post(alice, url.Values{"status": {"what do you think, fedi?"}})
		reply := fedify("/control/post", url.Values{"content": {"<p>@alice I agree</p>"}, "mention": {aliceURI}, "inReplyTo": {parent.URI}})
		var n *fedNotification
		waitFor(t, 20*time.Second, "alice's mention notification of fedi's reply", func() bool {
			n = a.notified(alice, "mention", reply)
			return n != nil
		})
		if n.Status.InReplyToID == nil || *n.Status.InReplyToID != parent.ID {
			t.Errorf("fedi's reply is in reply to %v, want %s", n.Status.InReplyToID, parent.ID)
		}

		note := fedify("/control/post", url.Values{"content": {"<p>a question from fedi</p>"}, "to": {aliceURI}})
		var st *api.Status
		waitFor(t, 20*time.Second, "fedi's note in alice's home", func() bool {
			st = a.homeStatus(alice, note)
			return st != nil
		})
		answer := post(alice, url.Values{"status": {"@" + peer.acct() + " here is my answer"}, "in_reply_to_id": {st.ID}})
		got := peer.waitActivity("alice's reply", createOf(answer.URI)).object()
		if got["inReplyTo"] != note {
			t.Errorf("alice's reply has inReplyTo %v, want %s", got["inReplyTo"], note)
		}
		if !hasTag(got, "Mention", fediURI, "") {
			t.Errorf("alice's reply does not mention fedi: %v", got["tag"])
		}
		if !slices.Contains(iris(got["cc"]), fediURI) && !slices.Contains(iris(got["to"]), fediURI) {
			t.Errorf("alice's reply does not address fedi: to=%v cc=%v", got["to"], got["cc"])
		}
	})

	step("hashtags", func(t *testing.T) {
		st := post(alice, url.Values{"status": {"birds of a feather #Starling"}})
		got := peer.waitActivity("alice's hashtag post", createOf(st.URI)).object()
		if !hasTag(got, "Hashtag", a.base+"/tags/starling", "#starling") {
			t.Errorf("alice's post has no Hashtag #starling: %v", got["tag"])
		}
		note := fedify("/control/post", url.Values{"content": {`<p>hello <a href="#" class="mention hashtag" rel="tag">#<span>fedify</span></a></p>`}, "tag": {"fedify"}, "to": {aliceURI}})
		waitFor(t, 20*time.Second, "fedi's note in the fedify tag timeline", func() bool {
			var page []api.Status
			a.mustCall("GET", "/api/v1/timelines/tag/fedify", alice, nil, &page)
			return slices.ContainsFunc(page, func(s api.Status) bool { return s.URI == note })
		})
	})

	step("edits", func(t *testing.T) {
		st := post(alice, url.Values{"status": {"first draft"}})
		peer.waitActivity("alice's post", createOf(st.URI))
		a.mustCall("PUT", "/api/v1/statuses/"+st.ID, alice, url.Values{"status": {"second draft"}}, nil)
		got := peer.waitActivity("alice's Update", func(r fedifyReceived) bool { return r.Type == "Update" && r.Object == st.URI })
		if c, _ := got.object()["content"].(string); !strings.Contains(c, "second draft") {
			t.Errorf("Update carries %q", c)
		}
		if got.object()["updated"] == nil {
			t.Errorf("Update's Note has no updated: %v", got.object())
		}

		note := fedify("/control/post", url.Values{"content": {"<p>fedi first draft</p>"}, "to": {aliceURI}})
		waitFor(t, 20*time.Second, "fedi's note", func() bool { return a.homeStatus(alice, note) != nil })
		fedify("/control/edit", url.Values{"id": {note}, "content": {"<p>fedi second draft</p>"}})
		waitFor(t, 20*time.Second, "fedi's edit applied", func() bool {
			s := a.homeStatus(alice, note)
			return s != nil && strings.Contains(s.Content, "fedi second draft") && s.EditedAt != nil
		})
	})

	step("deletes", func(t *testing.T) {
		st := post(alice, url.Values{"status": {"soon gone"}})
		peer.waitActivity("alice's post", createOf(st.URI))
		a.mustCall("DELETE", "/api/v1/statuses/"+st.ID, alice, nil, nil)
		peer.waitActivity("alice's Delete", func(r fedifyReceived) bool { return r.Type == "Delete" && r.Object == st.URI })

		note := fedify("/control/post", url.Values{"content": {"<p>fedi soon gone</p>"}, "to": {aliceURI}})
		var s *api.Status
		waitFor(t, 20*time.Second, "fedi's note", func() bool { s = a.homeStatus(alice, note); return s != nil })
		fedify("/control/delete", url.Values{"id": {note}})
		waitFor(t, 20*time.Second, "fedi's note gone", func() bool {
			return a.call("GET", "/api/v1/statuses/"+s.ID, alice, nil, nil) == 404
		})
	})

	step("likes and boosts", func(t *testing.T) {
		// Starling → Fedify.
		note := fedify("/control/post", url.Values{"content": {"<p>like me</p>"}, "to": {aliceURI}})
		var s *api.Status
		waitFor(t, 20*time.Second, "fedi's note", func() bool { s = a.homeStatus(alice, note); return s != nil })
		for _, step := range []struct{ path, typ, inner string }{
			{"favourite", "Like", ""}, {"unfavourite", "Undo", "Like"},
			{"reblog", "Announce", ""}, {"unreblog", "Undo", "Announce"},
		} {
			a.mustCall("POST", "/api/v1/statuses/"+s.ID+"/"+step.path, alice, url.Values{}, nil)
			peer.waitActivity("alice's "+step.path, func(r fedifyReceived) bool {
				if r.Actor != aliceURI || r.Type != step.typ {
					return false
				}
				if step.inner == "" {
					return r.Object == note
				}
				inner := r.object()
				return inner != nil && inner["type"] == step.inner && slices.Contains(iris(inner["object"]), note)
			})
		}

		// Fedify → Starling.
		mine := post(alice, url.Values{"status": {"like this, fedi"}})
		counts := func() api.Status {
			var st api.Status
			a.mustCall("GET", "/api/v1/statuses/"+mine.ID, alice, nil, &st)
			return st
		}
		fedify("/control/like", url.Values{"object": {mine.URI}, "to": {aliceURI}})
		waitFor(t, 20*time.Second, "fedi's like counted", func() bool { return counts().FavouritesCount == 1 })
		waitFor(t, 10*time.Second, "alice's favourite notification", func() bool { return a.notified(alice, "favourite", mine.URI) != nil })
		fedify("/control/unlike", url.Values{"object": {mine.URI}})
		waitFor(t, 20*time.Second, "fedi's like undone", func() bool { return counts().FavouritesCount == 0 })
		fedify("/control/boost", url.Values{"object": {mine.URI}, "to": {aliceURI}})
		waitFor(t, 20*time.Second, "fedi's boost counted", func() bool { return counts().ReblogsCount == 1 })
		waitFor(t, 10*time.Second, "alice's reblog notification", func() bool { return a.notified(alice, "reblog", mine.URI) != nil })
		fedify("/control/unboost", url.Values{"object": {mine.URI}})
		waitFor(t, 20*time.Second, "fedi's boost undone", func() bool { return counts().ReblogsCount == 0 })
	})

	step("unfollow", func(t *testing.T) {
		a.mustCall("POST", "/api/v1/accounts/"+fedi+"/unfollow", alice, url.Values{}, nil)
		peer.waitActivity("alice's Undo(Follow)", func(r fedifyReceived) bool {
			inner := r.object()
			return r.Type == "Undo" && r.Actor == aliceURI && inner != nil && inner["type"] == "Follow"
		})
		fedify("/control/unfollow", url.Values{"target": {aliceURI}})
		waitFor(t, 20*time.Second, "alice to lose Fedify as a follower", func() bool {
			var me struct {
				FollowersCount int `json:"followers_count"`
			}
			a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
			return me.FollowersCount == 0
		})
		// With no remote follower left, a followers-only post goes nowhere.
		st := post(alice, url.Values{"status": {"after the unfollow"}, "visibility": {"private"}})
		time.Sleep(time.Second)
		peer.none("a followers-only post after the unfollow", createOf(st.URI))
	})
}
