package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/starling-social/starling/api"
)

// rawJSON makes a request with a JSON body and returns the status, headers
// and body.
func (in *instance) rawJSON(method, path, token, body string) (int, http.Header, []byte) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.base+path, strings.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// listSocket subscribes to a list stream on the WebSocket and returns its
// events once the subscription took effect (a bad one after it answered).
func listSocket(t *testing.T, a *instance, token, list string) <-chan streamEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, "ws://"+a.cfg.Domain+"/api/v1/streaming", &websocket.DialOptions{Subprotocols: []string{token}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	for _, sub := range []string{`{"type":"subscribe","stream":"list","list":"` + list + `"}`,
		`{"type":"subscribe","stream":"list","list":"999999"}`} {
		if err := conn.Write(ctx, websocket.MessageText, []byte(sub)); err != nil {
			t.Fatal(err)
		}
	}
	ch := make(chan streamEvent, 64)
	go func() {
		defer close(ch)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var ev streamEvent
			if json.Unmarshal(data, &ev) == nil {
				ch <- ev
			}
		}
	}()
	expect(t, ch, "the error for a list that is not the viewer's", func(ev streamEvent) bool { return ev.Event == "error" })
	return ch
}

// TestClientEndpointsListsFiltersTags drives lists (with their timeline
// and stream, exclusive lists), filters v2 and v1 (stored, and applied to
// timelines, context and notifications) and followed hashtags (their
// posts entering the home feed), checking every answer against Mastodon's
// OpenAPI description and that bad input is refused and changes nothing.
func TestClientEndpointsListsFiltersTags(t *testing.T) {
	spec := loadMastodonSpec(t)
	a := startInstance(t, "A")
	alice, bob, carol, dave := a.user("alice"), a.user("bob"), a.user("carol"), a.user("dave")
	aliceID, bobID, carolID, daveID := a.accountID(alice, "alice"), a.accountID(alice, "bob"), a.accountID(alice, "carol"), a.accountID(alice, "dave")
	a.follow(alice, bobID)
	a.follow(alice, carolID)

	// do makes a request with a form (or, when body starts with '{', JSON)
	// and wants 200; sp is the spec path or "#/components/schemas/X" (with
	// "[]" after it: an array of X, each checked).
	do := func(t *testing.T, method, path, token, body, sp string, out any) http.Header {
		t.Helper()
		var code int
		var hdr http.Header
		var data []byte
		switch {
		case strings.HasPrefix(body, "{"):
			code, hdr, data = a.rawJSON(method, path, token, body)
		case method == "GET":
			code, hdr, data = a.raw(method, path, token, nil)
		default:
			code, hdr, data = a.raw(method, path, token, must(url.ParseQuery(body)))
		}
		if code != http.StatusOK {
			t.Fatalf("%s %s: status %d: %s", method, path, code, data)
		}
		if each, ok := strings.CutSuffix(sp, "[]"); ok {
			var list []json.RawMessage
			if err := json.Unmarshal(data, &list); err != nil {
				t.Fatalf("%s %s: not an array: %s", method, path, data)
			}
			for _, e := range list {
				spec.check(t, method, each, e)
			}
		} else if sp != "" {
			spec.check(t, method, sp, data)
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		return hdr
	}
	type status struct {
		ID       string
		Content  string
		Filtered []api.FilterResult
		Reblog   *struct{ ID string }
	}
	timeline := func(t *testing.T, path, token, sp string) []status {
		t.Helper()
		var list []status
		do(t, "GET", path, token, "", sp, &list)
		return list
	}
	find := func(list []status, id string) *status {
		for i := range list {
			if list[i].ID == id {
				return &list[i]
			}
		}
		return nil
	}
	home := func(t *testing.T) []status {
		return timeline(t, "/api/v1/timelines/home?limit=40", alice, "/api/v1/timelines/home")
	}

	var friends api.List
	t.Run("Lists", func(t *testing.T) {
		do(t, "POST", "/api/v1/lists", alice, "title=Friends", "#/components/schemas/List", &friends)
		if friends.Title != "Friends" || friends.RepliesPolicy != "list" || friends.Exclusive {
			t.Errorf("created %+v", friends)
		}
		var other api.List
		do(t, "POST", "/api/v1/lists", alice, `{"title":"Others","replies_policy":"none","exclusive":true}`, "#/components/schemas/List", &other)
		if other.RepliesPolicy != "none" || !other.Exclusive {
			t.Errorf("created from JSON %+v", other)
		}
		var all []api.List
		do(t, "GET", "/api/v1/lists", alice, "", "/api/v1/lists", &all)
		if len(all) != 2 || all[0].ID != friends.ID {
			t.Errorf("lists %+v", all)
		}
		do(t, "PUT", "/api/v1/lists/"+friends.ID, alice, "title=Pals&replies_policy=followed", "#/components/schemas/List", &friends)
		if friends.Title != "Pals" || friends.RepliesPolicy != "followed" || friends.Exclusive {
			t.Errorf("updated %+v", friends)
		}
		do(t, "GET", "/api/v1/lists/"+other.ID, alice, "", "#/components/schemas/List", nil)
		do(t, "DELETE", "/api/v1/lists/"+other.ID, alice, "", "", nil)
		if code := a.call("GET", "/api/v1/lists/"+other.ID, alice, nil, nil); code != http.StatusNotFound {
			t.Errorf("a deleted list: %d", code)
		}

		do(t, "POST", "/api/v1/lists/"+friends.ID+"/accounts", alice, "account_ids[]="+bobID+"&account_ids[]="+carolID, "", nil)
		var members []api.Account
		hdr := do(t, "GET", "/api/v1/lists/"+friends.ID+"/accounts?limit=1", alice, "", "#/components/schemas/Account[]", &members)
		if len(members) != 1 || members[0].ID != carolID {
			t.Fatalf("first page of members %+v, want carol", members)
		}
		do(t, "GET", must(url.Parse(linkURL(hdr.Get("Link"), "next"))).RequestURI(), alice, "", "#/components/schemas/Account[]", &members)
		if len(members) != 1 || members[0].ID != bobID {
			t.Errorf("second page of members %+v, want bob", members)
		}
		do(t, "GET", "/api/v1/lists/"+friends.ID+"/accounts?limit=0", alice, "", "#/components/schemas/Account[]", &members)
		if len(members) != 2 {
			t.Errorf("all members (limit=0): %+v", members)
		}
		do(t, "DELETE", "/api/v1/lists/"+friends.ID+"/accounts", alice, "account_ids[]="+carolID, "", nil)
		var lists []api.List
		do(t, "GET", "/api/v1/accounts/"+bobID+"/lists", alice, "", "/api/v1/accounts/{id}/lists", &lists)
		if len(lists) != 1 || lists[0].ID != friends.ID {
			t.Errorf("alice's lists with bob %+v", lists)
		}
		do(t, "GET", "/api/v1/accounts/"+carolID+"/lists", alice, "", "/api/v1/accounts/{id}/lists", &lists)
		if len(lists) != 0 {
			t.Errorf("alice's lists with carol %+v", lists)
		}
		do(t, "GET", "/api/v1/accounts/"+bobID+"/lists", bob, "", "/api/v1/accounts/{id}/lists", &lists)
		if len(lists) != 0 {
			t.Errorf("bob sees alice's lists: %+v", lists)
		}

		// The timeline and the streams: bob's posts, not carol's.
		stream := sse(t, a.base+"/api/v1/streaming/list?list="+friends.ID, http.Header{"Authorization": {"Bearer " + alice}})
		ws := listSocket(t, a, alice, friends.ID)
		byBob := a.post(bob, "for the list")
		byCarol := a.post(carol, "not for the list")
		expect(t, stream, "bob's post on the list stream", statusEvent("update", byBob.URI))
		ev := expect(t, ws, "bob's post on the WebSocket list stream", statusEvent("update", byBob.URI))
		if fmt.Sprint(ev.Stream) != "[list "+friends.ID+"]" {
			t.Errorf("list stream event for %v", ev.Stream)
		}
		list := timeline(t, "/api/v1/timelines/list/"+friends.ID, alice, "#/components/schemas/Status[]")
		if len(list) != 1 || list[0].ID != byBob.ID {
			t.Errorf("list timeline %+v, want bob's post only", list)
		}
		hdr = do(t, "GET", "/api/v1/timelines/list/"+friends.ID+"?limit=1", alice, "", "#/components/schemas/Status[]", nil)
		if !strings.Contains(hdr.Get("Link"), "max_id="+byBob.ID) {
			t.Errorf("list timeline Link %q", hdr.Get("Link"))
		}
		for _, ev := range drain(stream) {
			if statusEvent("update", byCarol.URI)(ev) {
				t.Error("carol's post on the list stream")
			}
		}

		// Exclusive: bob's posts leave alice's home timeline, carol's stay.
		waitFor(t, 10*time.Second, "both posts in alice's home", func() bool {
			h := home(t)
			return find(h, byBob.ID) != nil && find(h, byCarol.ID) != nil
		})
		do(t, "PUT", "/api/v1/lists/"+friends.ID, alice, "exclusive=true", "#/components/schemas/List", &friends)
		if h := home(t); find(h, byBob.ID) != nil || find(h, byCarol.ID) == nil {
			t.Errorf("home with an exclusive list: bob's %v, carol's %v", find(h, byBob.ID) != nil, find(h, byCarol.ID) != nil)
		}
		// So on the user stream: bob's next post reaches the list stream only.
		user := sse(t, a.base+"/api/v1/streaming/user", http.Header{"Authorization": {"Bearer " + alice}})
		bobAgain, carolAgain := a.post(bob, "exclusive"), a.post(carol, "not exclusive")
		expect(t, stream, "bob's next post on the list stream", statusEvent("update", bobAgain.URI))
		expect(t, user, "carol's post on the user stream", statusEvent("update", carolAgain.URI))
		for _, ev := range drain(user) {
			if statusEvent("update", bobAgain.URI)(ev) {
				t.Error("an exclusive list member's post on the user stream")
			}
		}
		do(t, "PUT", "/api/v1/lists/"+friends.ID, alice, "exclusive=false", "#/components/schemas/List", &friends)
		if h := home(t); find(h, byBob.ID) == nil {
			t.Error("bob's post not back in home once the list is not exclusive")
		}
	})

	var spoilers api.Filter
	t.Run("Filters", func(t *testing.T) {
		do(t, "POST", "/api/v2/filters", alice, `{"title":"Spoilers","context":["home","public","thread"],"filter_action":"warn",`+
			`"keywords_attributes":[{"keyword":"film","whole_word":true},{"keyword":"ENDING","whole_word":false}]}`,
			"#/components/schemas/Filter", &spoilers)
		if spoilers.Title != "Spoilers" || len(spoilers.Keywords) != 2 || !spoilers.Keywords[0].WholeWord ||
			spoilers.ExpiresAt != nil || spoilers.FilterAction != "warn" {
			t.Fatalf("created %+v", spoilers)
		}
		film := a.post(carol, "That <b>film</b> was great")
		filmography := a.post(carol, "my filmography")
		ending := a.post(bob, "the happy-endings club")
		waitFor(t, 10*time.Second, "the three posts in alice's home", func() bool {
			h := home(t)
			return find(h, film.ID) != nil && find(h, filmography.ID) != nil && find(h, ending.ID) != nil
		})
		h := home(t)
		if s := find(h, film.ID); len(s.Filtered) != 1 || fmt.Sprint(s.Filtered[0].KeywordMatches) != "[film]" ||
			s.Filtered[0].Filter.ID != spoilers.ID {
			t.Errorf("the film post filtered %+v", s.Filtered)
		}
		if s := find(h, filmography.ID); len(s.Filtered) != 0 {
			t.Errorf("a whole-word keyword matched part of a word: %+v", s.Filtered)
		}
		if s := find(h, ending.ID); len(s.Filtered) != 1 || fmt.Sprint(s.Filtered[0].KeywordMatches) != "[ENDING]" {
			t.Errorf("the endings post filtered %+v", s.Filtered)
		}
		pub := timeline(t, "/api/v1/timelines/public", alice, "/api/v1/timelines/public")
		if s := find(pub, film.ID); s == nil || len(s.Filtered) != 1 {
			t.Errorf("public timeline: the film post %+v", s)
		}
		// Others' timelines are not alice's business.
		if s := find(timeline(t, "/api/v1/timelines/public", bob, "/api/v1/timelines/public"), film.ID); s == nil || len(s.Filtered) != 0 {
			t.Errorf("bob's public timeline: the film post %+v", s)
		}
		// A boost carries the result too (of a post not in alice's home
		// already, or the boost would not be).
		byDave := a.post(dave, "film night")
		boost := api.Status{}
		a.mustCall("POST", "/api/v1/statuses/"+byDave.ID+"/reblog", bob, url.Values{}, &boost)
		waitFor(t, 10*time.Second, "bob's boost in alice's home, filtered", func() bool {
			s := find(home(t), boost.ID)
			return s != nil && len(s.Filtered) == 1
		})

		// The user stream marks them too.
		user := sse(t, a.base+"/api/v1/streaming/user", http.Header{"Authorization": {"Bearer " + alice}})
		streamed := a.post(carol, "another film")
		ev := expect(t, user, "carol's film post on the user stream", statusEvent("update", streamed.URI))
		var got status
		_ = json.Unmarshal([]byte(ev.Payload), &got)
		if len(got.Filtered) != 1 {
			t.Errorf("streamed %s", ev.Payload)
		}

		// hide: gone from home, public and the user stream, only marked in
		// the account context the filter does not name.
		do(t, "PUT", "/api/v2/filters/"+spoilers.ID, alice, `{"filter_action":"hide"}`, "#/components/schemas/Filter", &spoilers)
		hidden, plain := a.post(carol, "film again"), a.post(carol, "plain")
		expect(t, user, "carol's plain post on the user stream", statusEvent("update", plain.URI))
		for _, ev := range drain(user) {
			if statusEvent("update", hidden.URI)(ev) {
				t.Error("a hidden post on the user stream")
			}
		}
		if spoilers.FilterAction != "hide" || len(spoilers.Keywords) != 2 || spoilers.Title != "Spoilers" {
			t.Errorf("after PUT %+v", spoilers)
		}
		h = home(t)
		if find(h, film.ID) != nil || find(h, boost.ID) != nil || find(h, ending.ID) != nil || find(h, filmography.ID) == nil {
			t.Errorf("home with a hide filter: %+v", h)
		}
		if find(timeline(t, "/api/v1/timelines/public", alice, "/api/v1/timelines/public"), film.ID) != nil {
			t.Error("the film post in the public timeline despite hide")
		}
		var one status
		do(t, "GET", "/api/v1/statuses/"+film.ID, alice, "", "/api/v1/statuses/{id}", &one)
		if len(one.Filtered) != 1 {
			t.Errorf("a hidden status asked for by id: filtered %+v", one.Filtered)
		}
		acct := timeline(t, "/api/v1/accounts/"+carolID+"/statuses", alice, "/api/v1/accounts/{id}/statuses")
		if s := find(acct, film.ID); s == nil || len(s.Filtered) != 1 {
			t.Errorf("account statuses: the film post %+v", s)
		}
		reply := a.post(alice, "replying") // a thread to read the context of
		var st api.Status
		a.mustCall("POST", "/api/v1/statuses", carol, url.Values{"status": {"@alice the film ending"}, "in_reply_to_id": {reply.ID}}, &st)
		var thread struct{ Descendants []status }
		do(t, "GET", "/api/v1/statuses/"+reply.ID+"/context", alice, "", "/api/v1/statuses/{id}/context", &thread)
		if len(thread.Descendants) != 0 {
			t.Errorf("context shows a hidden reply: %+v", thread.Descendants)
		}
		// Notifications are not in the filter's context: marked, kept.
		waitFor(t, 10*time.Second, "carol's mention notified, marked", func() bool {
			var ns []struct{ Status *status }
			do(t, "GET", "/api/v1/notifications", alice, "", "/api/v1/notifications", &ns)
			for _, n := range ns {
				if n.Status != nil && n.Status.ID == st.ID {
					return len(n.Status.Filtered) == 1
				}
			}
			return false
		})

		// A filter hiding in notifications: the mention is neither read nor streamed.
		var quiet api.Filter
		do(t, "POST", "/api/v2/filters", alice, "title=quiet&context[]=notifications&filter_action=hide&keywords_attributes[][keyword]=secretword",
			"#/components/schemas/Filter", &quiet)
		notes := sse(t, a.base+"/api/v1/streaming/user/notification", http.Header{"Authorization": {"Bearer " + alice}})
		var secret, hello api.Status
		a.mustCall("POST", "/api/v1/statuses", carol, url.Values{"status": {"@alice secretword"}}, &secret)
		a.mustCall("POST", "/api/v1/statuses", carol, url.Values{"status": {"@alice hello"}}, &hello)
		isMention := func(id string) func(streamEvent) bool {
			return func(ev streamEvent) bool {
				var n struct{ Status *struct{ ID string } }
				return ev.Event == "notification" && json.Unmarshal([]byte(ev.Payload), &n) == nil && n.Status != nil && n.Status.ID == id
			}
		}
		expect(t, notes, "the hello mention streamed", isMention(hello.ID))
		for _, ev := range drain(notes) {
			if isMention(secret.ID)(ev) {
				t.Error("a hidden mention streamed")
			}
		}
		var ns []struct{ Status *status }
		do(t, "GET", "/api/v1/notifications", alice, "", "/api/v1/notifications", &ns)
		for _, n := range ns {
			if n.Status != nil && n.Status.ID == secret.ID {
				t.Error("a hidden mention among notifications")
			}
		}
		var grouped struct {
			Statuses []status
		}
		do(t, "GET", "/api/v2/notifications", alice, "", "", &grouped)
		if find(grouped.Statuses, secret.ID) != nil || find(grouped.Statuses, hello.ID) == nil {
			t.Errorf("grouped notifications' statuses %+v: the hidden mention, or not the other", grouped.Statuses)
		}
		do(t, "DELETE", "/api/v2/filters/"+quiet.ID, alice, "", "", nil)

		// Keywords.
		var kws []api.FilterKeyword
		do(t, "GET", "/api/v2/filters/"+spoilers.ID+"/keywords", alice, "", "#/components/schemas/FilterKeyword[]", &kws)
		if len(kws) != 2 {
			t.Errorf("keywords %+v", kws)
		}
		var kw api.FilterKeyword
		do(t, "POST", "/api/v2/filters/"+spoilers.ID+"/keywords", alice, "keyword=plot", "#/components/schemas/FilterKeyword", &kw)
		if kw.Keyword != "plot" || !kw.WholeWord {
			t.Errorf("added keyword %+v", kw)
		}
		do(t, "PUT", "/api/v2/filters/keywords/"+kw.ID, alice, "whole_word=false", "#/components/schemas/FilterKeyword", &kw)
		if kw.Keyword != "plot" || kw.WholeWord {
			t.Errorf("changed keyword %+v", kw)
		}
		do(t, "GET", "/api/v2/filters/keywords/"+kw.ID, alice, "", "#/components/schemas/FilterKeyword", nil)
		do(t, "GET", "/api/v2/filter_keywords/"+kw.ID, alice, "", "#/components/schemas/FilterKeyword", nil) // the alias
		do(t, "DELETE", "/api/v2/filters/keywords/"+kw.ID, alice, "", "", nil)
		// keywords_attributes in a form: change one, destroy one, add one.
		form := url.Values{"keywords_attributes[0][id]": {spoilers.Keywords[0].ID}, "keywords_attributes[0][keyword]": {"movie"},
			"keywords_attributes[1][id]": {spoilers.Keywords[1].ID}, "keywords_attributes[1][_destroy]": {"true"},
			"keywords_attributes[2][keyword]": {"twist"}, "filter_action": {"warn"}}
		do(t, "PUT", "/api/v2/filters/"+spoilers.ID, alice, form.Encode(), "#/components/schemas/Filter", &spoilers)
		var words []string
		for _, k := range spoilers.Keywords {
			words = append(words, k.Keyword)
		}
		if fmt.Sprint(words) != "[movie twist]" {
			t.Errorf("keywords after a form PUT: %v", words)
		}

		// Statuses.
		var fs api.FilterStatus
		do(t, "POST", "/api/v2/filters/"+spoilers.ID+"/statuses", alice, "status_id="+filmography.ID, "#/components/schemas/FilterStatus", &fs)
		if fs.StatusID != filmography.ID {
			t.Errorf("filter status %+v", fs)
		}
		do(t, "GET", "/api/v2/filters/"+spoilers.ID+"/statuses", alice, "", "#/components/schemas/FilterStatus[]", nil)
		do(t, "GET", "/api/v2/filters/statuses/"+fs.ID, alice, "", "#/components/schemas/FilterStatus", nil)
		if s := find(home(t), filmography.ID); s == nil || len(s.Filtered) != 1 || fmt.Sprint(s.Filtered[0].StatusMatches) != "["+filmography.ID+"]" {
			t.Errorf("a filtered status: %+v", s)
		}
		do(t, "DELETE", "/api/v2/filters/statuses/"+fs.ID, alice, "", "", nil)

		var all []api.Filter
		do(t, "GET", "/api/v2/filters", alice, "", "/api/v2/filters", &all)
		do(t, "GET", "/api/v2/filters/"+spoilers.ID, alice, "", "#/components/schemas/Filter", nil)
		if len(all) != 1 {
			t.Errorf("filters %+v", all)
		}

		// v1: each keyword a filter.
		var v1 api.V1Filter
		do(t, "POST", "/api/v1/filters", alice, "phrase=cliffhanger&context[]=home&context[]=notifications&irreversible=true&whole_word=false&expires_in=3600",
			"#/components/schemas/V1Filter", &v1)
		if v1.Phrase != "cliffhanger" || !v1.Irreversible || v1.WholeWord || v1.ExpiresAt == nil {
			t.Errorf("v1 filter %+v", v1)
		}
		var v1s []api.V1Filter
		do(t, "GET", "/api/v1/filters", alice, "", "#/components/schemas/V1Filter[]", &v1s)
		if len(v1s) != 3 {
			t.Errorf("v1 filters %+v", v1s)
		}
		do(t, "PUT", "/api/v1/filters/"+v1.ID, alice, "phrase=cliffhangers&irreversible=false", "#/components/schemas/V1Filter", &v1)
		if v1.Phrase != "cliffhangers" || v1.Irreversible {
			t.Errorf("v1 filter after PUT %+v", v1)
		}
		do(t, "GET", "/api/v1/filters/"+v1.ID, alice, "", "#/components/schemas/V1Filter", nil)
		// The v2 filter has two keywords: its context is not v1's to change.
		if code, _, _ := a.raw("PUT", "/api/v1/filters/"+spoilers.Keywords[0].ID, alice, url.Values{"context[]": {"public"}}); code != http.StatusUnprocessableEntity {
			t.Errorf("v1 change of a shared context: %d, want 422", code)
		}
		do(t, "DELETE", "/api/v1/filters/"+v1.ID, alice, "", "", nil)
		do(t, "GET", "/api/v2/filters", alice, "", "/api/v2/filters", &all)
		if len(all) != 1 {
			t.Errorf("after v1 delete, v2 filters %+v", all)
		}
	})

	t.Run("FollowedTags", func(t *testing.T) {
		var tag api.Tag
		do(t, "GET", "/api/v1/tags/Birds", alice, "", "/api/v1/tags/{name}", &tag)
		if tag.Following || tag.Name != "Birds" || tag.ID != "birds" {
			t.Errorf("tag %+v", tag)
		}
		do(t, "POST", "/api/v1/tags/Birds/follow", alice, "", "#/components/schemas/Tag", &tag)
		do(t, "POST", "/api/v1/tags/cats/follow", alice, "", "#/components/schemas/Tag", nil)
		if !tag.Following {
			t.Errorf("followed %+v", tag)
		}
		do(t, "GET", "/api/v1/tags/birds", alice, "", "/api/v1/tags/{name}", &tag)
		if !tag.Following {
			t.Error("GET does not show the tag followed")
		}
		var tags []api.Tag
		hdr := do(t, "GET", "/api/v1/followed_tags?limit=1", alice, "", "/api/v1/followed_tags", &tags)
		if len(tags) != 1 || tags[0].Name != "cats" {
			t.Fatalf("first page of followed tags %+v", tags)
		}
		do(t, "GET", must(url.Parse(linkURL(hdr.Get("Link"), "next"))).RequestURI(), alice, "", "/api/v1/followed_tags", &tags)
		if len(tags) != 1 || tags[0].Name != "Birds" {
			t.Errorf("second page of followed tags %+v", tags)
		}
		// dave, whom alice does not follow, posts with the tag: it comes home.
		tagged := a.post(dave, "#BIRDS at dawn")
		untagged := a.post(dave, "no tag here")
		waitFor(t, 10*time.Second, "dave's tagged post in alice's home", func() bool { return find(home(t), tagged.ID) != nil })
		if find(home(t), untagged.ID) != nil {
			t.Error("dave's untagged post in alice's home")
		}
		do(t, "POST", "/api/v1/tags/birds/unfollow", alice, "", "#/components/schemas/Tag", &tag)
		do(t, "GET", "/api/v1/followed_tags", alice, "", "/api/v1/followed_tags", &tags)
		if tag.Following || len(tags) != 1 {
			t.Errorf("after unfollow: %+v, %d followed", tag, len(tags))
		}
		if find(home(t), tagged.ID) != nil {
			t.Error("what only the unfollowed tag brought is still in home")
		}
		later := a.post(dave, "more #birds")
		a.post(carol, "a later post") // once carol's is home, dave's would be too
		waitFor(t, 10*time.Second, "carol's later post in alice's home", func() bool {
			h := home(t)
			return len(h) > 0 && h[0].Content == "<p>a later post</p>"
		})
		if find(home(t), later.ID) != nil {
			t.Error("a post with an unfollowed tag came home")
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		var bobList api.List
		do(t, "POST", "/api/v1/lists", bob, "title=Bob's", "#/components/schemas/List", &bobList)
		var bobFilter api.Filter
		do(t, "POST", "/api/v2/filters", bob, `{"title":"x","context":["home"],"keywords_attributes":[{"keyword":"x"}]}`,
			"#/components/schemas/Filter", &bobFilter)
		writeOnly := must(adminOf(a).CreateToken(context.Background(), "alice", "write"))
		readOnly := must(adminOf(a).CreateToken(context.Background(), "alice", "read"))
		kw := spoilers.Keywords[0].ID
		snapshot := func() string {
			var lists, filters, tags json.RawMessage
			a.mustCall("GET", "/api/v1/lists", alice, nil, &lists)
			a.mustCall("GET", "/api/v2/filters", alice, nil, &filters)
			a.mustCall("GET", "/api/v1/followed_tags", alice, nil, &tags)
			var members json.RawMessage
			a.mustCall("GET", "/api/v1/lists/"+friends.ID+"/accounts", alice, nil, &members)
			return string(lists) + string(filters) + string(tags) + string(members)
		}
		before := snapshot()
		tests := []struct {
			name, method, path, token, body string
			want                            int
			msg                             string
		}{
			{"unknown list", "GET", "/api/v1/lists/999999", alice, "", 404, "Record not found"},
			{"malformed list id", "GET", "/api/v1/lists/x1", alice, "", 404, "Record not found"},
			{"another's list", "GET", "/api/v1/lists/" + bobList.ID, alice, "", 404, "Record not found"},
			{"update another's list", "PUT", "/api/v1/lists/" + bobList.ID, alice, "title=mine", 404, "Record not found"},
			{"delete another's list", "DELETE", "/api/v1/lists/" + bobList.ID, alice, "", 404, "Record not found"},
			{"another's list timeline", "GET", "/api/v1/timelines/list/" + bobList.ID, alice, "", 404, "Record not found"},
			{"another's list members", "GET", "/api/v1/lists/" + bobList.ID + "/accounts", alice, "", 404, "Record not found"},
			{"unknown list timeline", "GET", "/api/v1/timelines/list/999999", alice, "", 404, "Record not found"},
			{"list without title", "POST", "/api/v1/lists", alice, "replies_policy=list", 422, "Validation failed: Title can't be blank"},
			{"list with blank title", "PUT", "/api/v1/lists/" + friends.ID, alice, "title=%20", 422, ""},
			{"list with bad policy", "POST", "/api/v1/lists", alice, "title=x&replies_policy=all", 422, ""},
			{"list member not followed", "POST", "/api/v1/lists/" + friends.ID + "/accounts", alice, "account_ids[]=" + daveID, 422, ""},
			{"list member unknown", "POST", "/api/v1/lists/" + friends.ID + "/accounts", alice, "account_ids[]=999999", 404, "Record not found"},
			{"list member twice", "POST", "/api/v1/lists/" + friends.ID + "/accounts", alice, "account_ids[]=" + bobID, 422, ""},
			{"lists of unknown account", "GET", "/api/v1/accounts/999999/lists", alice, "", 404, "Record not found"},
			{"lists without read", "GET", "/api/v1/lists", writeOnly, "", 403, ""},
			{"list timeline without read", "GET", "/api/v1/timelines/list/" + friends.ID, writeOnly, "", 403, ""},
			{"create list without write", "POST", "/api/v1/lists", readOnly, "title=x", 403, ""},
			{"add member without write", "POST", "/api/v1/lists/" + friends.ID + "/accounts", readOnly, "account_ids[]=" + carolID, 403, ""},
			{"unknown filter", "GET", "/api/v2/filters/999999", alice, "", 404, "Record not found"},
			{"another's filter", "GET", "/api/v2/filters/" + bobFilter.ID, alice, "", 404, "Record not found"},
			{"update another's filter", "PUT", "/api/v2/filters/" + bobFilter.ID, alice, "title=mine", 404, "Record not found"},
			{"delete another's filter", "DELETE", "/api/v2/filters/" + bobFilter.ID, alice, "", 404, "Record not found"},
			{"another's keyword", "GET", "/api/v2/filters/keywords/" + bobFilter.Keywords[0].ID, alice, "", 404, "Record not found"},
			{"delete another's keyword", "DELETE", "/api/v2/filters/keywords/" + bobFilter.Keywords[0].ID, alice, "", 404, "Record not found"},
			{"unknown filter status", "GET", "/api/v2/filters/statuses/999999", alice, "", 404, "Record not found"},
			{"unknown filter status (alias)", "GET", "/api/v2/filter_statuses/999999", alice, "", 404, "Record not found"},
			{"keyword route without id", "GET", "/api/v2/filters/keywords", alice, "", 404, "Record not found"},
			{"unknown v1 filter", "GET", "/api/v1/filters/999999", alice, "", 404, "Record not found"},
			{"another's v1 filter", "DELETE", "/api/v1/filters/" + bobFilter.Keywords[0].ID, alice, "", 404, "Record not found"},
			{"filter without title", "POST", "/api/v2/filters", alice, `{"context":["home"]}`, 422, "Validation failed: Title can't be blank"},
			{"filter without context", "POST", "/api/v2/filters", alice, "title=x", 422, ""},
			{"filter with bad context", "POST", "/api/v2/filters", alice, "title=x&context[]=everywhere", 422, ""},
			{"filter with bad action", "POST", "/api/v2/filters", alice, "title=x&context[]=home&filter_action=blur", 422, ""},
			{"filter with bad expiry", "POST", "/api/v2/filters", alice, "title=x&context[]=home&expires_in=soon", 422, ""},
			{"filter with blank keyword", "POST", "/api/v2/filters", alice, `{"title":"x","context":["home"],"keywords_attributes":[{"keyword":" "}]}`, 422, ""},
			{"filter editing another's keyword", "PUT", "/api/v2/filters/" + spoilers.ID, alice,
				`{"title":"changed","keywords_attributes":[{"id":"` + bobFilter.Keywords[0].ID + `","keyword":"y"}]}`, 404, "Record not found"},
			{"blank keyword", "PUT", "/api/v2/filters/keywords/" + kw, alice, "keyword=", 422, ""},
			{"filter status unknown", "POST", "/api/v2/filters/" + spoilers.ID + "/statuses", alice, "status_id=999999", 404, "Record not found"},
			{"v1 filter without phrase", "POST", "/api/v1/filters", alice, "context[]=home", 422, ""},
			{"bad JSON", "POST", "/api/v2/filters", alice, `{"title":`, 400, ""},
			{"filters without read", "GET", "/api/v2/filters", writeOnly, "", 403, ""},
			{"v1 filters without read", "GET", "/api/v1/filters", writeOnly, "", 403, ""},
			{"create filter without write", "POST", "/api/v2/filters", readOnly, "title=x&context[]=home", 403, ""},
			{"delete keyword without write", "DELETE", "/api/v2/filters/keywords/" + kw, readOnly, "", 403, ""},
			{"follow a non-tag", "POST", "/api/v1/tags/no%20tag/follow", alice, "", 404, "Record not found"},
			{"follow a tag without write", "POST", "/api/v1/tags/birds/follow", readOnly, "", 403, ""},
			{"followed tags without read", "GET", "/api/v1/followed_tags", writeOnly, "", 403, ""},
			{"followed tags bad limit", "GET", "/api/v1/followed_tags?limit=x", alice, "", 400, ""},
			{"list stream of another's list", "GET", "/api/v1/streaming/list?list=" + bobList.ID, alice, "", 404, "Record not found"},
			{"list stream without list", "GET", "/api/v1/streaming/list", alice, "", 400, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var code int
				var body []byte
				switch {
				case strings.HasPrefix(tt.body, "{"):
					code, _, body = a.rawJSON(tt.method, tt.path, tt.token, tt.body)
				case tt.method == "GET":
					code, _, body = a.raw(tt.method, tt.path, tt.token, nil)
				default:
					code, _, body = a.raw(tt.method, tt.path, tt.token, must(url.ParseQuery(tt.body)))
				}
				var e map[string]any
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("status %d, body is not JSON: %s", code, body)
				}
				msg, _ := e["error"].(string)
				if code != tt.want || msg == "" || (tt.msg != "" && msg != tt.msg) {
					t.Errorf("%d %v, want %d %q", code, e, tt.want, tt.msg)
				}
			})
		}
		if after := snapshot(); after != before {
			t.Errorf("refused requests changed something:\nbefore %s\nafter  %s", before, after)
		}
		// Bob's list and filter are as he made them.
		var l api.List
		do(t, "GET", "/api/v1/lists/"+bobList.ID, bob, "", "#/components/schemas/List", &l)
		var f api.Filter
		do(t, "GET", "/api/v2/filters/"+bobFilter.ID, bob, "", "#/components/schemas/Filter", &f)
		if l.Title != "Bob's" || f.Title != "x" || !slices.Equal([]string{f.Keywords[0].Keyword}, []string{"x"}) {
			t.Errorf("bob's list %+v, filter %+v", l, f)
		}
	})
	_ = aliceID
}
