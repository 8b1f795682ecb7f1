package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// mastodonSpec compiles response schemas out of Mastodon's OpenAPI
// description (testdata/mastodon-openapi), which is OpenAPI 3.1 and so JSON
// Schema 2020-12 throughout.
type mastodonSpec struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

const specURL = "file:///mastodon-openapi.json"

func loadMastodonSpec(t testing.TB) *mastodonSpec {
	t.Helper()
	f, err := os.Open("testdata/mastodon-openapi/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(specURL, doc); err != nil {
		t.Fatal(err)
	}
	return &mastodonSpec{compiler: c, schemas: map[string]*jsonschema.Schema{}}
}

// check validates body against the 200 response of method path (as the
// spec names it, e.g. /api/v1/statuses/{id}/context), or against the
// schema path points to when it starts with "#/" (the description gives
// GET /api/v1/preferences no response schema, only the entity).
func (s *mastodonSpec) check(t testing.TB, method, path string, body []byte) {
	t.Helper()
	ptr := "#/paths/" + strings.ReplaceAll(strings.ReplaceAll(path, "~", "~0"), "/", "~1") + "/" +
		strings.ToLower(method) + "/responses/200/content/application~1json/schema"
	if strings.HasPrefix(path, "#/") {
		ptr = path
	}
	s.mu.Lock()
	sch, ok := s.schemas[ptr]
	if !ok {
		var err error
		if sch, err = s.compiler.Compile(specURL + ptr); err != nil {
			s.mu.Unlock()
			t.Fatalf("compile schema of %s %s: %v", method, path, err)
		}
		s.schemas[ptr] = sch
	}
	s.mu.Unlock()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: not JSON: %v: %s", method, path, err, body)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s %s does not match Mastodon's schema: %v\nbody: %.2000s", method, path, err, body)
	}
}

// raw makes a request and returns the status, headers and body.
func (in *instance) raw(method, path, token string, form url.Values) (int, http.Header, []byte) {
	in.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, in.base+path, body)
	if err != nil {
		in.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
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

// TestClientEndpoints drives the endpoints Mastodon clients call after
// login (issue 11) through a thread, favourites, boosts, bookmarks, pins,
// follows, mutes, blocks and markers, checking what each answers and that
// every answer matches Mastodon's OpenAPI description.
func TestClientEndpoints(t *testing.T) {
	spec := loadMastodonSpec(t)
	a := startInstance(t, "A")
	alice, bob, carol := a.user("alice"), a.user("bob"), a.user("carol")
	type status struct {
		ID              string              `json:"id"`
		InReplyToID     *string             `json:"in_reply_to_id"`
		FavouritesCount int                 `json:"favourites_count"`
		ReblogsCount    int                 `json:"reblogs_count"`
		Favourited      bool                `json:"favourited"`
		Reblogged       bool                `json:"reblogged"`
		Bookmarked      bool                `json:"bookmarked"`
		Pinned          *bool               `json:"pinned"`
		Reblog          *status             `json:"reblog"`
		Account         struct{ ID string } `json:"account"`
	}
	type account struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	// get fetches path, checks it against spec path sp, and decodes it.
	get := func(t *testing.T, method, path, sp, token string, form url.Values, out any) http.Header {
		t.Helper()
		code, hdr, body := a.raw(method, path, token, form)
		if code != http.StatusOK {
			t.Fatalf("%s %s: status %d: %s", method, path, code, body)
		}
		spec.check(t, method, sp, body)
		if out != nil {
			if err := json.Unmarshal(body, out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		return hdr
	}
	post := func(t *testing.T, token, text, replyTo string) status {
		t.Helper()
		var st status
		form := url.Values{"status": {text}}
		if replyTo != "" {
			form.Set("in_reply_to_id", replyTo)
		}
		get(t, "POST", "/api/v1/statuses", "#/components/schemas/Status", token, form, &st)
		return st
	}
	var me account
	a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
	var bobAcc, carolAcc account
	a.mustCall("GET", "/api/v1/accounts/verify_credentials", bob, nil, &bobAcc)
	a.mustCall("GET", "/api/v1/accounts/verify_credentials", carol, nil, &carolAcc)

	t.Run("Instance", func(t *testing.T) {
		var v2 struct {
			Domain, Version string
			Thumbnail       struct{ URL string }
			Configuration   struct {
				URLs     struct{ Streaming string } `json:"urls"`
				Statuses struct {
					MaxCharacters            int `json:"max_characters"`
					MaxMediaAttachments      int `json:"max_media_attachments"`
					CharactersReservedPerURL int `json:"characters_reserved_per_url"`
				}
			}
		}
		get(t, "GET", "/api/v2/instance", "/api/v2/instance", "", nil, &v2)
		if v2.Domain != a.cfg.Domain || !strings.HasPrefix(v2.Version, "4.3.0 (compatible; Starling ") {
			t.Errorf("domain %q, version %q", v2.Domain, v2.Version)
		}
		if v2.Configuration.URLs.Streaming != "ws://"+a.cfg.Domain {
			t.Errorf("streaming %q", v2.Configuration.URLs.Streaming)
		}
		if c := v2.Configuration.Statuses; c.MaxCharacters != 500 || c.MaxMediaAttachments != 4 || c.CharactersReservedPerURL != 23 {
			t.Errorf("statuses configuration %+v", c)
		}
		resp, err := a.client.Get(v2.Thumbnail.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("thumbnail %s: %d %s", v2.Thumbnail.URL, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		get(t, "GET", "/api/v1/instance", "/api/v1/instance", "", nil, nil)
		get(t, "GET", "/api/v1/preferences", "#/components/schemas/Preferences", alice, nil, nil)
		var emojis []any
		get(t, "GET", "/api/v1/custom_emojis", "/api/v1/custom_emojis", "", nil, &emojis)
		if len(emojis) != 0 {
			t.Errorf("custom emojis %v", emojis)
		}
	})

	t.Run("UpdateCredentials", func(t *testing.T) {
		get(t, "PATCH", "/api/v1/accounts/update_credentials", "#/components/schemas/CredentialAccount", carol,
			url.Values{"display_name": {"Carol"}, "note": {"Hi #there"}, "fields_attributes[0][name]": {"Web"},
				"fields_attributes[0][value]": {"https://carol.example"}, "source[privacy]": {"private"}}, nil)
		get(t, "GET", "/api/v1/accounts/verify_credentials", "/api/v1/accounts/verify_credentials", carol, nil, nil)
		get(t, "GET", "/api/v1/preferences", "#/components/schemas/Preferences", carol, nil, nil)
	})

	t.Run("Conversations", func(t *testing.T) {
		type conversation struct {
			ID         string    `json:"id"`
			Unread     bool      `json:"unread"`
			Accounts   []account `json:"accounts"`
			LastStatus status    `json:"last_status"`
		}
		direct := func(token, text, replyTo string) status {
			var st status
			form := url.Values{"status": {text}, "visibility": {"direct"}}
			if replyTo != "" {
				form.Set("in_reply_to_id", replyTo)
			}
			get(t, "POST", "/api/v1/statuses", "#/components/schemas/Status", token, form, &st)
			return st
		}
		first := direct(alice, "@bob @carol a secret", "")
		a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"@bob in public"}}, nil) // no conversation
		var convs []conversation
		waitFor(t, 10*time.Second, "bob's conversation", func() bool {
			get(t, "GET", "/api/v1/conversations", "/api/v1/conversations", bob, nil, &convs)
			return len(convs) == 1
		})
		c := convs[0]
		if !c.Unread || c.LastStatus.ID != first.ID || len(c.Accounts) != 2 || c.Accounts[0].ID == bobAcc.ID || c.Accounts[1].ID == bobAcc.ID {
			t.Errorf("bob's conversation %+v", c)
		}
		reply := direct(carol, "@alice @bob whispering back", first.ID)
		waitFor(t, 10*time.Second, "alice's conversation to move to carol's reply, unread", func() bool {
			get(t, "GET", "/api/v1/conversations", "/api/v1/conversations", alice, nil, &convs)
			return len(convs) == 1 && convs[0].LastStatus.ID == reply.ID && convs[0].Unread
		})
		var read conversation
		get(t, "POST", "/api/v1/conversations/"+convs[0].ID+"/read", "#/components/schemas/Conversation", alice, url.Values{}, &read)
		if read.Unread || read.ID != convs[0].ID {
			t.Errorf("after read: %+v", read)
		}
		var directs []status
		get(t, "GET", "/api/v1/timelines/direct", "/api/v1/timelines/home", bob, nil, &directs) // a list of Status; Mastodon dropped the path from its description
		if len(directs) != 2 || directs[0].ID != reply.ID || directs[1].ID != first.ID {
			t.Errorf("bob's direct timeline %+v", directs)
		}
		// Another account's conversation, or none: 404, nothing changed.
		for _, path := range []string{"/api/v1/conversations/" + convs[0].ID + "/read", "/api/v1/conversations/999/read"} {
			if code := a.call("POST", path, carol, url.Values{}, nil); code != http.StatusNotFound {
				t.Errorf("POST %s as carol: %d, want 404", path, code)
			}
		}
		if code := a.call("DELETE", "/api/v1/conversations/"+convs[0].ID, bob, nil, nil); code != http.StatusNotFound {
			t.Errorf("bob deleting alice's conversation: %d, want 404", code)
		}
		a.mustCall("DELETE", "/api/v1/conversations/"+convs[0].ID, alice, nil, nil)
		get(t, "GET", "/api/v1/conversations", "/api/v1/conversations", alice, nil, &convs)
		if len(convs) != 0 {
			t.Errorf("alice's conversations after removing: %+v", convs)
		}
	})

	t.Run("Markers", func(t *testing.T) {
		var got map[string]struct {
			LastReadID string `json:"last_read_id"`
			Version    int
		}
		get(t, "GET", "/api/v1/markers?timeline[]=home", "/api/v1/markers", alice, nil, &got)
		if len(got) != 0 {
			t.Errorf("markers before any saved: %v", got)
		}
		get(t, "POST", "/api/v1/markers", "/api/v1/markers", alice, url.Values{"home[last_read_id]": {"1234"}}, nil)
		get(t, "POST", "/api/v1/markers", "/api/v1/markers", alice,
			url.Values{"home[last_read_id]": {"1240"}, "notifications[last_read_id]": {"7"}}, nil)
		get(t, "GET", "/api/v1/markers?timeline[]=home&timeline[]=notifications", "/api/v1/markers", alice, nil, &got)
		if got["home"].LastReadID != "1240" || got["home"].Version != 1 || got["notifications"].LastReadID != "7" {
			t.Errorf("markers %+v", got)
		}
	})

	// A thread: alice posts, bob replies, alice answers; carol chats elsewhere.
	root := post(t, alice, "a thread #birds", "")
	reply := post(t, bob, "@alice a reply", root.ID)
	answer := post(t, alice, "@bob an answer", reply.ID)
	post(t, carol, "unrelated", "")

	t.Run("FavouriteAndReblogCountAtOnce", func(t *testing.T) {
		a.mustCall("GET", "/api/v1/statuses/"+root.ID, bob, nil, nil) // warm any cache
		var fav status
		get(t, "POST", "/api/v1/statuses/"+root.ID+"/favourite", "/api/v1/statuses/{id}/favourite", bob, url.Values{}, &fav)
		if !fav.Favourited || fav.FavouritesCount != 1 {
			t.Errorf("after favourite: favourited %v, count %d", fav.Favourited, fav.FavouritesCount)
		}
		var boost status
		get(t, "POST", "/api/v1/statuses/"+root.ID+"/reblog", "/api/v1/statuses/{id}/reblog", bob, url.Values{}, &boost)
		if boost.Reblog == nil || !boost.Reblog.Reblogged || boost.Reblog.ReblogsCount != 1 || !boost.Reblog.Favourited {
			t.Errorf("after reblog: %+v", boost.Reblog)
		}
		var seen status
		get(t, "GET", "/api/v1/statuses/"+root.ID, "/api/v1/statuses/{id}", bob, nil, &seen)
		if !seen.Favourited || !seen.Reblogged || seen.FavouritesCount != 1 || seen.ReblogsCount != 1 {
			t.Errorf("GET after both: %+v", seen)
		}
		var by []account
		get(t, "GET", "/api/v1/statuses/"+root.ID+"/favourited_by", "/api/v1/statuses/{id}/favourited_by", alice, nil, &by)
		if len(by) != 1 || by[0].ID != bobAcc.ID {
			t.Errorf("favourited_by %v", by)
		}
		get(t, "GET", "/api/v1/statuses/"+root.ID+"/reblogged_by", "/api/v1/statuses/{id}/reblogged_by", alice, nil, &by)
		if len(by) != 1 || by[0].ID != bobAcc.ID {
			t.Errorf("reblogged_by %v", by)
		}
		var favs []status
		get(t, "GET", "/api/v1/favourites", "/api/v1/favourites", bob, nil, &favs)
		if len(favs) != 1 || favs[0].ID != root.ID || !favs[0].Favourited {
			t.Errorf("favourites %+v", favs)
		}
		// Paged, the latest first.
		a.mustCall("POST", "/api/v1/statuses/"+root.ID+"/favourite", carol, url.Values{}, nil)
		hdr := get(t, "GET", "/api/v1/statuses/"+root.ID+"/favourited_by?limit=1", "/api/v1/statuses/{id}/favourited_by", alice, nil, &by)
		if len(by) != 1 || by[0].ID != carolAcc.ID {
			t.Fatalf("first page of favourited_by %v, want carol", by)
		}
		get(t, "GET", must(url.Parse(linkURL(hdr.Get("Link"), "next"))).RequestURI(), "/api/v1/statuses/{id}/favourited_by", alice, nil, &by)
		if len(by) != 1 || by[0].ID != bobAcc.ID {
			t.Errorf("second page of favourited_by %v, want bob", by)
		}
	})

	t.Run("Context", func(t *testing.T) {
		var c struct{ Ancestors, Descendants []status }
		get(t, "GET", "/api/v1/statuses/"+reply.ID+"/context", "/api/v1/statuses/{id}/context", carol, nil, &c)
		if len(c.Ancestors) != 1 || c.Ancestors[0].ID != root.ID || len(c.Descendants) != 1 || c.Descendants[0].ID != answer.ID {
			t.Errorf("context of the reply: %+v", c)
		}
		get(t, "GET", "/api/v1/statuses/"+root.ID+"/context", "/api/v1/statuses/{id}/context", bob, nil, &c)
		if len(c.Ancestors) != 0 || len(c.Descendants) != 2 || c.Descendants[0].ID != reply.ID || c.Descendants[1].ID != answer.ID {
			t.Errorf("context of the root: %+v", c)
		}
		if len(c.Descendants) > 0 && c.Descendants[0].Bookmarked {
			t.Errorf("bookmarked before any bookmark")
		}
		// A followers-only reply is left out for those who may not see it.
		private := url.Values{"status": {"only followers"}, "in_reply_to_id": {root.ID}, "visibility": {"private"}}
		a.mustCall("POST", "/api/v1/statuses", bob, private, nil)
		get(t, "GET", "/api/v1/statuses/"+root.ID+"/context", "/api/v1/statuses/{id}/context", carol, nil, &c)
		if len(c.Descendants) != 2 {
			t.Errorf("carol sees %d descendants, want 2", len(c.Descendants))
		}
		get(t, "GET", "/api/v1/statuses/"+root.ID+"/context", "/api/v1/statuses/{id}/context", bob, nil, &c)
		if len(c.Descendants) != 3 {
			t.Errorf("bob, the author, sees %d descendants, want 3", len(c.Descendants))
		}
	})

	t.Run("Bookmarks", func(t *testing.T) {
		var st status
		get(t, "POST", "/api/v1/statuses/"+reply.ID+"/bookmark", "/api/v1/statuses/{id}/bookmark", alice, url.Values{}, &st)
		if !st.Bookmarked {
			t.Error("bookmark answered bookmarked false")
		}
		var list []status
		hdr := get(t, "GET", "/api/v1/bookmarks", "/api/v1/bookmarks", alice, nil, &list)
		if len(list) != 1 || list[0].ID != reply.ID || !list[0].Bookmarked || !strings.Contains(hdr.Get("Link"), `rel="next"`) {
			t.Errorf("bookmarks %+v, Link %q", list, hdr.Get("Link"))
		}
		get(t, "GET", "/api/v1/bookmarks", "/api/v1/bookmarks", bob, nil, &list)
		if len(list) != 0 {
			t.Errorf("bob sees alice's bookmarks: %+v", list)
		}
		get(t, "POST", "/api/v1/statuses/"+reply.ID+"/unbookmark", "/api/v1/statuses/{id}/unbookmark", alice, url.Values{}, &st)
		get(t, "GET", "/api/v1/bookmarks", "/api/v1/bookmarks", alice, nil, &list)
		if st.Bookmarked || len(list) != 0 {
			t.Errorf("after unbookmark: %v, %d listed", st.Bookmarked, len(list))
		}
		// The home timeline shows the flag too, past its render cache.
		seenInHome := func(bookmarked bool) bool {
			var home []status
			get(t, "GET", "/api/v1/timelines/home", "/api/v1/timelines/home", alice, nil, &home)
			for _, h := range home {
				if h.ID == answer.ID {
					return h.Bookmarked == bookmarked
				}
			}
			return false
		}
		waitFor(t, 10*time.Second, "the answer in alice's home, not bookmarked", func() bool { return seenInHome(false) })
		a.mustCall("POST", "/api/v1/statuses/"+answer.ID+"/bookmark", alice, url.Values{}, nil)
		if !seenInHome(true) {
			t.Error("home timeline does not show the bookmark")
		}
		a.mustCall("POST", "/api/v1/statuses/"+answer.ID+"/unbookmark", alice, url.Values{}, nil)
		if !seenInHome(false) {
			t.Error("home timeline still shows the bookmark")
		}
		// Bookmarks are listed as they were made, and paged so: the
		// older status bookmarked last comes first.
		a.mustCall("POST", "/api/v1/statuses/"+answer.ID+"/bookmark", alice, url.Values{}, nil)
		a.mustCall("POST", "/api/v1/statuses/"+root.ID+"/bookmark", alice, url.Values{}, nil)
		hdr = get(t, "GET", "/api/v1/bookmarks?limit=1", "/api/v1/bookmarks", alice, nil, &list)
		if len(list) != 1 || list[0].ID != root.ID {
			t.Fatalf("first page of bookmarks %+v, want the root", list)
		}
		next := linkURL(hdr.Get("Link"), "next")
		get(t, "GET", must(url.Parse(next)).RequestURI(), "/api/v1/bookmarks", alice, nil, &list)
		if len(list) != 1 || list[0].ID != answer.ID {
			t.Errorf("second page of bookmarks (%s) %+v, want the answer", next, list)
		}
		prev := linkURL(hdr.Get("Link"), "prev")
		get(t, "GET", must(url.Parse(prev)).RequestURI(), "/api/v1/bookmarks", alice, nil, &list)
		if len(list) != 0 {
			t.Errorf("page before the first (%s): %+v", prev, list)
		}
		a.mustCall("POST", "/api/v1/statuses/"+answer.ID+"/unbookmark", alice, url.Values{}, nil)
		a.mustCall("POST", "/api/v1/statuses/"+root.ID+"/unbookmark", alice, url.Values{}, nil)
	})

	t.Run("Pins", func(t *testing.T) {
		var st status
		get(t, "POST", "/api/v1/statuses/"+root.ID+"/pin", "/api/v1/statuses/{id}/pin", alice, url.Values{}, &st)
		if st.Pinned == nil || !*st.Pinned {
			t.Errorf("pin answered pinned %v", st.Pinned)
		}
		if code := a.call("POST", "/api/v1/statuses/"+reply.ID+"/pin", alice, url.Values{}, nil); code != http.StatusUnprocessableEntity {
			t.Errorf("pinning another's status: %d, want 422", code)
		}
		var boost status
		a.mustCall("POST", "/api/v1/statuses/"+reply.ID+"/reblog", alice, url.Values{}, &boost)
		if code := a.call("POST", "/api/v1/statuses/"+boost.ID+"/pin", alice, url.Values{}, nil); code != http.StatusUnprocessableEntity {
			t.Errorf("pinning a boost: %d, want 422", code)
		}
		a.mustCall("POST", "/api/v1/statuses/"+reply.ID+"/unreblog", alice, url.Values{}, nil)
		var list []status
		get(t, "GET", "/api/v1/accounts/"+me.ID+"/statuses?pinned=true", "/api/v1/accounts/{id}/statuses", bob, nil, &list)
		if len(list) != 1 || list[0].ID != root.ID {
			t.Errorf("pinned statuses %+v", list)
		}
		waitFor(t, 10*time.Second, "the pinned root marked so in alice's home", func() bool {
			var home []status
			get(t, "GET", "/api/v1/timelines/home", "/api/v1/timelines/home", alice, nil, &home)
			for _, h := range home {
				if h.ID == root.ID {
					return h.Pinned != nil && *h.Pinned
				}
			}
			return false
		})
		get(t, "POST", "/api/v1/statuses/"+root.ID+"/unpin", "/api/v1/statuses/{id}/unpin", alice, url.Values{}, &st)
		get(t, "GET", "/api/v1/accounts/"+me.ID+"/statuses?pinned=true", "/api/v1/accounts/{id}/statuses", bob, nil, &list)
		if st.Pinned == nil || *st.Pinned || len(list) != 0 {
			t.Errorf("after unpin: pinned %v, %d listed", st.Pinned, len(list))
		}
	})

	t.Run("AccountStatuses", func(t *testing.T) {
		ids := func(q string) []string {
			var list []status
			get(t, "GET", "/api/v1/accounts/"+bobAcc.ID+"/statuses"+q, "/api/v1/accounts/{id}/statuses", alice, nil, &list)
			var out []string
			for _, s := range list {
				out = append(out, s.ID)
			}
			return out
		}
		all := ids("")
		if !slices.Contains(all, reply.ID) || len(all) < 2 {
			t.Errorf("bob's statuses %v", all)
		}
		if got := ids("?exclude_replies=true"); slices.Contains(got, reply.ID) || len(got) != 1 {
			t.Errorf("exclude_replies: %v (the boost only)", got)
		}
		if got := ids("?exclude_reblogs=true"); len(got) != 1 || got[0] != reply.ID {
			t.Errorf("exclude_reblogs: %v, want [%s] (alice does not follow bob)", got, reply.ID)
		}
		if got := ids("?only_media=true"); len(got) != 0 {
			t.Errorf("only_media: %v", got)
		}
		var aliceTagged []status
		get(t, "GET", "/api/v1/accounts/"+me.ID+"/statuses?tagged=birds", "/api/v1/accounts/{id}/statuses", bob, nil, &aliceTagged)
		if len(aliceTagged) != 1 || aliceTagged[0].ID != root.ID {
			t.Errorf("tagged=birds: %+v", aliceTagged)
		}
	})

	t.Run("AccountLists", func(t *testing.T) {
		a.follow(bob, me.ID)
		a.follow(carol, me.ID)
		var list []account
		hdr := get(t, "GET", "/api/v1/accounts/"+me.ID+"/followers?limit=1", "/api/v1/accounts/{id}/followers", bob, nil, &list)
		if len(list) != 1 || list[0].ID != carolAcc.ID {
			t.Fatalf("first page of followers %v, want carol", list)
		}
		next := linkURL(hdr.Get("Link"), "next")
		if next == "" {
			t.Fatalf("no next link in %q", hdr.Get("Link"))
		}
		u := must(url.Parse(next))
		get(t, "GET", u.RequestURI(), "/api/v1/accounts/{id}/followers", bob, nil, &list)
		if len(list) != 1 || list[0].ID != bobAcc.ID {
			t.Errorf("second page of followers %v, want bob", list)
		}
		get(t, "GET", "/api/v1/accounts/"+bobAcc.ID+"/following", "/api/v1/accounts/{id}/following", carol, nil, &list)
		if len(list) != 1 || list[0].ID != me.ID {
			t.Errorf("bob follows %v", list)
		}
		a.mustCall("POST", "/api/v1/accounts/"+carolAcc.ID+"/mute", alice, url.Values{}, nil)
		a.mustCall("POST", "/api/v1/accounts/"+bobAcc.ID+"/block", carol, url.Values{}, nil)
		get(t, "GET", "/api/v1/mutes", "/api/v1/mutes", alice, nil, &list)
		if len(list) != 1 || list[0].ID != carolAcc.ID {
			t.Errorf("alice mutes %v", list)
		}
		get(t, "GET", "/api/v1/blocks", "/api/v1/blocks", carol, nil, &list)
		if len(list) != 1 || list[0].ID != bobAcc.ID {
			t.Errorf("carol blocks %v", list)
		}
		get(t, "GET", "/api/v1/follow_requests", "/api/v1/follow_requests", alice, nil, &list)
		if len(list) != 0 {
			t.Errorf("follow requests of an unlocked account: %v", list)
		}
		get(t, "GET", "/api/v1/accounts/search?q=ali", "/api/v1/accounts/search", bob, nil, &list)
		if len(list) != 1 || list[0].ID != me.ID {
			t.Errorf("search ali: %v", list)
		}
		get(t, "GET", "/api/v1/accounts/search?q=a&following=true", "/api/v1/accounts/search", bob, nil, &list)
		if len(list) != 1 || list[0].ID != me.ID {
			t.Errorf("search a among followed: %v", list)
		}
	})

	t.Run("NotificationFlags", func(t *testing.T) {
		a.mustCall("POST", "/api/v1/statuses/"+root.ID+"/bookmark", alice, url.Values{}, nil)
		defer a.mustCall("POST", "/api/v1/statuses/"+root.ID+"/unbookmark", alice, url.Values{}, nil)
		waitFor(t, 10*time.Second, "bob's favourite notified, with alice's flags on the status", func() bool {
			var ns []struct {
				Type   string
				Status *status
			}
			get(t, "GET", "/api/v1/notifications", "/api/v1/notifications", alice, nil, &ns)
			for _, n := range ns {
				if n.Type == "favourite" && n.Status != nil && n.Status.ID == root.ID {
					return n.Status.Bookmarked && n.Status.Pinned != nil
				}
			}
			return false
		})
	})

	t.Run("FollowRequests", func(t *testing.T) {
		dave, erin := a.user("dave"), a.user("erin")
		a.mustCall("PATCH", "/api/v1/accounts/update_credentials", dave, url.Values{"locked": {"true"}}, nil)
		daveID := a.accountID(erin, "dave")
		var rel struct {
			Requested bool `json:"requested"`
		}
		get(t, "POST", "/api/v1/accounts/"+daveID+"/follow", "/api/v1/accounts/{id}/follow", erin, url.Values{}, &rel)
		if !rel.Requested {
			t.Errorf("following a locked account: not requested")
		}
		var reqs []account
		get(t, "GET", "/api/v1/follow_requests", "/api/v1/follow_requests", dave, nil, &reqs)
		if len(reqs) != 1 || reqs[0].Username != "erin" {
			t.Fatalf("follow requests %+v", reqs)
		}
		get(t, "POST", "/api/v1/follow_requests/"+reqs[0].ID+"/authorize", "#/components/schemas/Relationship", dave, url.Values{}, nil)
		get(t, "GET", "/api/v1/accounts/relationships?id[]="+reqs[0].ID, "/api/v1/accounts/relationships", dave, nil, nil)
		a.mustCall("POST", "/api/v1/accounts/"+daveID+"/unfollow", erin, url.Values{}, nil)
		a.mustCall("POST", "/api/v1/accounts/"+daveID+"/follow", erin, url.Values{}, nil)
		get(t, "POST", "/api/v1/follow_requests/"+reqs[0].ID+"/reject", "#/components/schemas/Relationship", dave, url.Values{}, nil)
	})

	t.Run("GroupedNotifications", func(t *testing.T) {
		// bob and carol favourited the root: one group of two, with
		// each account and the status given once.
		type group struct {
			GroupKey           string   `json:"group_key"`
			Type               string   `json:"type"`
			NotificationsCount int      `json:"notifications_count"`
			SampleAccountIDs   []string `json:"sample_account_ids"`
			StatusID           *string  `json:"status_id"`
		}
		var got struct {
			Accounts           []account `json:"accounts"`
			Statuses           []status  `json:"statuses"`
			NotificationGroups []group   `json:"notification_groups"`
		}
		waitFor(t, 10*time.Second, "two favourites of the root, grouped", func() bool {
			get(t, "GET", "/api/v2/notifications?types[]=favourite", "#/components/schemas/GroupedNotificationsResults", alice, nil, &got)
			return len(got.NotificationGroups) == 1 && got.NotificationGroups[0].NotificationsCount == 2
		})
		g := got.NotificationGroups[0]
		if g.Type != "favourite" || g.StatusID == nil || *g.StatusID != root.ID || len(g.SampleAccountIDs) != 2 ||
			len(got.Accounts) != 2 || len(got.Statuses) != 1 || !strings.HasPrefix(g.GroupKey, "favourite-"+root.ID+"-") {
			t.Errorf("grouped favourites %+v (accounts %d, statuses %d)", g, len(got.Accounts), len(got.Statuses))
		}
		// Everything, with mentions ungrouped.
		get(t, "GET", "/api/v2/notifications", "#/components/schemas/GroupedNotificationsResults", alice, nil, &got)
		for _, g := range got.NotificationGroups {
			if g.Type == "mention" && (g.NotificationsCount != 1 || !strings.HasPrefix(g.GroupKey, "ungrouped-")) {
				t.Errorf("a mention grouped: %+v", g)
			}
		}
		var count struct{ Count int }
		a.mustCall("GET", "/api/v1/notifications/unread_count", alice, nil, &count)
		var all []struct{ ID string }
		a.mustCall("GET", "/api/v1/notifications?limit=40", alice, nil, &all)
		if count.Count != len(all) || count.Count == 0 {
			t.Errorf("unread_count %d before any marker, %d notifications", count.Count, len(all))
		}
		a.mustCall("POST", "/api/v1/markers", alice, url.Values{"notifications[last_read_id]": {all[0].ID}}, nil)
		a.mustCall("GET", "/api/v2/notifications/unread_count", alice, nil, &count)
		if count.Count != 0 {
			t.Errorf("unread_count %d after reading them all", count.Count)
		}
	})

	// What clients call besides, built before issue 11, held to the same description.
	t.Run("Earlier", func(t *testing.T) {
		for _, c := range []struct{ method, path, spec string }{
			{"GET", "/api/v1/accounts/verify_credentials", "/api/v1/accounts/verify_credentials"},
			{"GET", "/api/v1/accounts/" + bobAcc.ID, "/api/v1/accounts/{id}"},
			{"GET", "/api/v1/accounts/lookup?acct=bob", "/api/v1/accounts/lookup"},
			{"GET", "/api/v1/accounts/relationships?id[]=" + bobAcc.ID, "/api/v1/accounts/relationships"},
			{"GET", "/api/v2/search?q=bob", "/api/v2/search"},
			{"GET", "/api/v1/search?q=bob", "/api/v2/search"},
			{"GET", "/api/v1/accounts/" + bobAcc.ID + "/statuses?exclude_replies=true", "/api/v1/accounts/{id}/statuses"},
			{"GET", "/api/v1/timelines/public", "/api/v1/timelines/public"},
			{"GET", "/api/v1/timelines/tag/birds", "/api/v1/timelines/tag/{hashtag}"},
			{"GET", "/api/v1/statuses/" + root.ID, "/api/v1/statuses/{id}"},
			{"GET", "/api/v1/statuses/" + root.ID + "/history", "/api/v1/statuses/{id}/history"},
			{"GET", "/api/v1/statuses/" + root.ID + "/source", "/api/v1/statuses/{id}/source"},
			{"POST", "/api/v1/statuses/" + root.ID + "/unfavourite", "/api/v1/statuses/{id}/unfavourite"},
			{"POST", "/api/v1/accounts/" + bobAcc.ID + "/mute", "/api/v1/accounts/{id}/mute"},
		} {
			var form url.Values
			if c.method == "POST" {
				form = url.Values{}
			}
			get(t, c.method, c.path, c.spec, alice, form, nil)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		for _, p := range []string{"/api/v1/filters", "/api/v2/filters", "/api/v1/lists",
			"/api/v2/suggestions", "/api/v1/trends/tags", "/api/v1/trends/statuses", "/api/v1/trends/links",
			"/api/v1/announcements", "/api/v1/directory", "/api/v1/endorsements", "/api/v1/featured_tags",
			"/api/v1/followed_tags", "/api/v1/scheduled_statuses"} {
			var list []any
			if p == "/api/v1/filters" {
				// The description gives this list ("List of [V1::Filter]")
				// the schema of one V1Filter, so only its shape is checked.
				if code, _, body := a.raw("GET", p, alice, nil); code != http.StatusOK || string(bytes.TrimSpace(body)) != "[]" {
					t.Errorf("%s: %d %s", p, code, body)
				}
				continue
			}
			get(t, "GET", p, p, alice, nil, &list)
			if len(list) != 0 {
				t.Errorf("%s: %v", p, list)
			}
		}
		for _, c := range []struct{ path, spec string }{
			{"/api/v1/instance/rules", "/api/v1/instance/rules"},
			{"/api/v1/instance/peers", "/api/v1/instance/peers"},
			{"/api/v1/instance/activity", "/api/v1/instance/activity"},
			{"/api/v1/instance/domain_blocks", "/api/v1/instance/domain_blocks"},
			{"/api/v1/instance/extended_description", "/api/v1/instance/extended_description"},
			{"/api/v1/accounts/" + me.ID + "/featured_tags", "/api/v1/accounts/{id}/featured_tags"},
			{"/api/v1/accounts/" + me.ID + "/lists", "/api/v1/accounts/{id}/lists"},
			{"/api/v1/accounts/familiar_followers?id[]=" + bobAcc.ID, "/api/v1/accounts/familiar_followers"},
			{"/api/v1/tags/Birds", "/api/v1/tags/{name}"},
		} {
			get(t, "GET", c.path, c.spec, alice, nil, nil)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		writeOnly := must(adminOf(a).CreateToken(context.Background(), "alice", "write:statuses"))
		readOnly := must(adminOf(a).CreateToken(context.Background(), "alice", "read"))
		tests := []struct {
			name, method, path, token string
			want                      int
			msg                       string
		}{
			{"context of unknown status", "GET", "/api/v1/statuses/999999/context", alice, 404, "Record not found"},
			{"favourited_by unknown", "GET", "/api/v1/statuses/999999/favourited_by", alice, 404, "Record not found"},
			{"reblogged_by unknown", "GET", "/api/v1/statuses/999999/reblogged_by", alice, 404, "Record not found"},
			{"bookmark unknown", "POST", "/api/v1/statuses/999999/bookmark", alice, 404, "Record not found"},
			{"unbookmark malformed", "POST", "/api/v1/statuses/x1/unbookmark", alice, 404, "Record not found"},
			{"pin unknown", "POST", "/api/v1/statuses/999999/pin", alice, 404, "Record not found"},
			{"followers of unknown", "GET", "/api/v1/accounts/999999/followers", alice, 404, "Record not found"},
			{"following of unknown", "GET", "/api/v1/accounts/999999/following", alice, 404, "Record not found"},
			{"statuses of unknown", "GET", "/api/v1/accounts/999999/statuses?pinned=true", alice, 404, "Record not found"},
			{"bookmarks without read", "GET", "/api/v1/bookmarks", writeOnly, 403, ""},
			{"markers without read", "GET", "/api/v1/markers", writeOnly, 403, ""},
			{"bookmark without write", "POST", "/api/v1/statuses/" + root.ID + "/bookmark", readOnly, 403, ""},
			{"save marker without write", "POST", "/api/v1/markers", readOnly, 403, ""},
			{"pin without write", "POST", "/api/v1/statuses/" + root.ID + "/pin", readOnly, 403, ""},
			{"mutes without read", "GET", "/api/v1/mutes", writeOnly, 403, ""},
			{"lists without token", "GET", "/api/v1/lists", "", 401, ""},
			{"bad marker id", "POST", "/api/v1/markers?home[last_read_id]=abc", alice, 422, ""},
			{"bad followers limit", "GET", "/api/v1/accounts/" + me.ID + "/followers?limit=x", alice, 400, ""},
			{"search without q", "GET", "/api/v1/accounts/search", alice, 400, ""},
			{"featured tags of unknown", "GET", "/api/v1/accounts/999999/featured_tags", alice, 404, "Record not found"},
			{"familiar followers bad id", "GET", "/api/v1/accounts/familiar_followers?id[]=x", alice, 400, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var form url.Values
				if tt.method == "POST" {
					form = url.Values{}
				}
				code, _, body := a.raw(tt.method, tt.path, tt.token, form)
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
	})
}

// linkURL returns the URL of rel in a Link header.
func linkURL(header, rel string) string {
	for _, part := range strings.Split(header, ",") {
		if strings.Contains(part, `rel="`+rel+`"`) {
			part = strings.TrimSpace(part)
			if i, j := strings.Index(part, "<"), strings.Index(part, ">"); i >= 0 && j > i {
				return part[i+1 : j]
			}
		}
	}
	return ""
}
