package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
)

// jsonCall sends body as JSON, as masto.js and Elk do, and decodes a 2xx
// answer into out.
func (in *instance) jsonCall(method, path, token string, body any, headers map[string]string, out any) int {
	in.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		in.t.Fatal(err)
	}
	req, err := http.NewRequest(method, in.base+path, bytes.NewReader(b))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			in.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

type credentials struct {
	DisplayName  string      `json:"display_name"`
	Note         string      `json:"note"`
	Locked       bool        `json:"locked"`
	Bot          bool        `json:"bot"`
	Discoverable bool        `json:"discoverable"`
	Fields       []api.Field `json:"fields"`
	Source       struct {
		Note      string      `json:"note"`
		Privacy   string      `json:"privacy"`
		Sensitive bool        `json:"sensitive"`
		Fields    []api.Field `json:"fields"`
	} `json:"source"`
}

// TestUpdateCredentials changes alice's profile the way clients do (JSON
// with fields_attributes as a list, then a form with indexed keys) and
// sees the change federated as an Update of the actor: the Fedify peer
// receives and verifies it, and a second Starling shows the new profile.
// Bad input is refused with Mastodon's 422 and changes nothing; the
// posting preferences set with it are the defaults of new posts.
func TestUpdateCredentials(t *testing.T) {
	peer := startFedify(t)
	a, b := startInstance(t, "A"), startInstance(t, "B")
	alice, bob := a.user("alice"), b.user("bob")
	aliceURI := a.base + "/users/alice"
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))
	peer.control("POST", "/control/follow", url.Values{"target": {aliceURI}}, nil)
	waitFor(t, 20*time.Second, "alice to have two followers", func() bool {
		var me struct {
			FollowersCount int `json:"followers_count"`
		}
		a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
		return me.FollowersCount == 2
	})

	var got credentials
	if code := a.jsonCall("PATCH", "/api/v1/accounts/update_credentials", alice, map[string]any{
		"display_name": "Alice Liddell",
		"note":         "Down the rabbit hole.\nhttps://example.com #wonderland",
		"discoverable": false,
		"fields_attributes": []map[string]string{
			{"name": "Pronouns", "value": "she/her"}, {"name": "Home", "value": "<b>Wonderland</b>"},
		},
		"source": map[string]any{"privacy": "unlisted", "sensitive": true},
	}, nil, &got); code != http.StatusOK {
		t.Fatalf("update_credentials: %d", code)
	}
	switch {
	case got.DisplayName != "Alice Liddell" || got.Discoverable:
		t.Errorf("profile %+v", got)
	case !strings.Contains(got.Note, `href="https://example.com"`) || !strings.Contains(got.Note, "#<span>wonderland</span>"):
		t.Errorf("note not formatted: %q", got.Note)
	case got.Source.Note != "Down the rabbit hole.\nhttps://example.com #wonderland":
		t.Errorf("source note %q", got.Source.Note)
	case len(got.Fields) != 2 || got.Fields[1].Value != "&lt;b&gt;Wonderland&lt;/b&gt;" || got.Source.Fields[1].Value != "<b>Wonderland</b>":
		t.Errorf("fields %+v, source fields %+v", got.Fields, got.Source.Fields)
	case got.Source.Privacy != "unlisted" || !got.Source.Sensitive:
		t.Errorf("source %+v", got.Source)
	}

	// The Fedify peer gets an Update of the actor, signed by alice, and
	// Fedify's inbox verified it before recording it.
	up := peer.waitActivity("alice's profile Update", func(r fedifyReceived) bool {
		return r.Type == "Update" && r.Object == aliceURI
	})
	obj := up.object()
	if obj["type"] != "Person" || obj["name"] != "Alice Liddell" || obj["discoverable"] != false {
		t.Errorf("Update's actor: type %v name %v discoverable %v", obj["type"], obj["name"], obj["discoverable"])
	}
	if att, _ := obj["attachment"].([]any); len(att) != 2 {
		t.Errorf("Update's actor has %d fields, want 2", len(att))
	}
	// B shows the new profile.
	waitFor(t, 20*time.Second, "B to show alice's new profile", func() bool {
		var acct api.Account
		b.mustCall("GET", "/api/v1/accounts/lookup?acct=alice@"+a.cfg.Domain, bob, nil, &acct)
		return acct.DisplayName == "Alice Liddell" && len(acct.Fields) == 2 && acct.Fields[0].Value == "she/her"
	})

	// A form with indexed keys changes only what it names: the fields
	// are replaced, the display name stays.
	a.mustCall("PATCH", "/api/v1/accounts/update_credentials", alice, url.Values{
		"fields_attributes[1][name]": {"Second"}, "fields_attributes[1][value]": {"2"},
		"fields_attributes[0][name]": {"First"}, "fields_attributes[0][value]": {"1"},
		"locked": {"true"},
	}, &got)
	if got.DisplayName != "Alice Liddell" || !got.Locked || len(got.Fields) != 2 || got.Fields[0].Name != "First" || got.Fields[1].Name != "Second" {
		t.Errorf("after a form update: %+v", got)
	}

	// The preferences are the defaults of a new post.
	var prefs map[string]any
	a.mustCall("GET", "/api/v1/preferences", alice, nil, &prefs)
	if prefs["posting:default:visibility"] != "unlisted" || prefs["posting:default:sensitive"] != true {
		t.Errorf("preferences %v", prefs)
	}
	var st api.Status
	a.mustCall("POST", "/api/v1/statuses", alice, url.Values{"status": {"no visibility given"}}, &st)
	if st.Visibility != "unlisted" || !st.Sensitive {
		t.Errorf("a post without visibility: %s, sensitive %v; want unlisted, sensitive", st.Visibility, st.Sensitive)
	}

	// Bad input: refused, nothing changed.
	readOnly, err := adminOf(a).CreateToken(t.Context(), "alice", "read")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		token string
		form  url.Values
		want  int
	}{
		{"display name too long", alice, url.Values{"display_name": {strings.Repeat("x", 31)}}, 422},
		{"note too long", alice, url.Values{"note": {strings.Repeat("x", 501)}}, 422},
		{"five fields", alice, url.Values{"fields_attributes[0][name]": {"a"}, "fields_attributes[1][name]": {"b"},
			"fields_attributes[2][name]": {"c"}, "fields_attributes[3][name]": {"d"}, "fields_attributes[4][name]": {"e"}}, 422},
		{"field too long", alice, url.Values{"fields_attributes[0][name]": {"a"}, "fields_attributes[0][value]": {strings.Repeat("v", 256)}}, 422},
		{"unknown privacy", alice, url.Values{"source[privacy]": {"everyone"}}, 422},
		{"bad language", alice, url.Values{"source[language]": {"english"}}, 422},
		{"NUL in the name", alice, url.Values{"display_name": {"a\x00b"}}, 422},
		{"read-only token", readOnly, url.Values{"display_name": {"Mallory"}}, 403},
		{"no token", "", url.Values{"display_name": {"Mallory"}}, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code := a.call("PATCH", "/api/v1/accounts/update_credentials", tt.token, tt.form, nil); code != tt.want {
				t.Errorf("status %d, want %d", code, tt.want)
			}
		})
	}
	var after credentials
	a.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &after)
	if after.DisplayName != "Alice Liddell" || len(after.Fields) != 2 || after.Source.Privacy != "unlisted" {
		t.Errorf("bad input changed the profile: %+v", after)
	}
}

// TestIdempotencyKey: a post retried with the same Idempotency-Key gets
// the first status back, as on Mastodon; another key posts anew; another
// account's key is its own.
func TestIdempotencyKey(t *testing.T) {
	a := startInstance(t, "A")
	alice, bob := a.user("alice"), a.user("bob")
	post := func(token, key string) api.Status {
		t.Helper()
		var st api.Status
		if code := a.jsonCall("POST", "/api/v1/statuses", token, map[string]any{"status": "once, " + key},
			map[string]string{"Idempotency-Key": key}, &st); code != http.StatusOK {
			t.Fatalf("post with key %q: %d", key, code)
		}
		return st
	}
	first, again, other := post(alice, "k1"), post(alice, "k1"), post(alice, "k2")
	bobs := post(bob, "k1")
	if first.ID != again.ID {
		t.Errorf("a retried post made a second status: %s, %s", first.ID, again.ID)
	}
	if other.ID == first.ID || bobs.ID == first.ID {
		t.Errorf("another key or account got the same status: %s %s %s", first.ID, other.ID, bobs.ID)
	}
	var statuses []api.Status
	a.mustCall("GET", "/api/v1/accounts/"+first.Account.ID+"/statuses", alice, nil, &statuses)
	if len(statuses) != 2 {
		t.Errorf("alice has %d statuses, want 2", len(statuses))
	}
	if code := a.jsonCall("POST", "/api/v1/statuses", alice, map[string]any{"status": "x"},
		map[string]string{"Idempotency-Key": strings.Repeat("k", 200)}, nil); code != 422 {
		t.Errorf("an over-long key: %d, want 422", code)
	}
}

// TestFollowRequests: alice locks her account; the Fedify peer, bob on a
// second Starling and carol on hers ask to follow; each request waits,
// notified as follow_request and listed, until alice answers: the peer
// gets an Accept, bob's server a Reject, carol follows at once.
func TestFollowRequests(t *testing.T) {
	peer := startFedify(t)
	a, b := startInstance(t, "A"), startInstance(t, "B")
	alice, carol, bob := a.user("alice"), a.user("carol"), b.user("bob")
	aliceURI := a.base + "/users/alice"
	a.mustCall("PATCH", "/api/v1/accounts/update_credentials", alice, url.Values{"locked": {"true"}}, nil)

	peer.control("POST", "/control/follow", url.Values{"target": {aliceURI}}, nil)
	aliceOnB := b.resolve(bob, "alice@"+a.cfg.Domain)
	b.mustCall("POST", "/api/v1/accounts/"+aliceOnB+"/follow", bob, url.Values{}, nil)
	aliceID := a.accountID(carol, "alice")
	var rel api.Relationship
	a.mustCall("POST", "/api/v1/accounts/"+aliceID+"/follow", carol, url.Values{}, &rel)
	if rel.Following || !rel.Requested {
		t.Errorf("carol's follow of locked alice: %+v", rel)
	}

	var requests []api.Account
	waitFor(t, 20*time.Second, "three follow requests for alice", func() bool {
		a.mustCall("GET", "/api/v1/follow_requests", alice, nil, &requests)
		return len(requests) == 3
	})
	byAcct := map[string]string{}
	for _, r := range requests {
		byAcct[r.Acct] = r.ID
	}
	fediID, bobID, carolID := byAcct[peer.acct()], byAcct["bob@"+b.cfg.Domain], byAcct["carol"]
	if fediID == "" || bobID == "" || carolID == "" {
		t.Fatalf("follow requests %v", byAcct)
	}
	var notes []struct {
		Type    string
		Account struct{ ID string }
	}
	// Notifications are written by the timeline consumer, after the
	// requests themselves: wait for them too.
	waitFor(t, 20*time.Second, "three follow_request notifications", func() bool {
		a.mustCall("GET", "/api/v1/notifications?types[]=follow_request", alice, nil, &notes)
		return len(notes) == 3
	})
	var rels []api.Relationship
	a.mustCall("GET", "/api/v1/accounts/relationships?id[]="+fediID, alice, nil, &rels)
	if len(rels) != 1 || !rels[0].RequestedBy || rels[0].FollowedBy {
		t.Errorf("alice's relationship to the peer before answering: %+v", rels)
	}

	a.mustCall("POST", "/api/v1/follow_requests/"+fediID+"/authorize", alice, url.Values{}, &rel)
	if !rel.FollowedBy || rel.RequestedBy {
		t.Errorf("after authorize: %+v", rel)
	}
	peer.waitActivity("alice's Accept", func(r fedifyReceived) bool { return r.Type == "Accept" && r.Actor == aliceURI })

	a.mustCall("POST", "/api/v1/follow_requests/"+bobID+"/reject", alice, url.Values{}, &rel)
	if rel.FollowedBy || rel.RequestedBy {
		t.Errorf("after reject: %+v", rel)
	}
	waitFor(t, 20*time.Second, "B to see bob's request rejected", func() bool {
		b.mustCall("GET", "/api/v1/accounts/relationships?id[]="+aliceOnB, bob, nil, &rels)
		return len(rels) == 1 && !rels[0].Requested && !rels[0].Following
	})

	a.mustCall("POST", "/api/v1/follow_requests/"+carolID+"/authorize", alice, url.Values{}, nil)
	a.mustCall("GET", "/api/v1/accounts/relationships?id[]="+aliceID, carol, nil, &rels)
	if len(rels) != 1 || !rels[0].Following {
		t.Errorf("carol after authorize: %+v", rels)
	}

	// Answered requests are gone; answering again, or an unknown id, is
	// Mastodon's 404 and changes nothing.
	a.mustCall("GET", "/api/v1/follow_requests", alice, nil, &requests)
	if len(requests) != 0 {
		t.Errorf("follow requests after answering all: %d", len(requests))
	}
	for _, path := range []string{"/api/v1/follow_requests/" + carolID + "/reject", "/api/v1/follow_requests/" + bobID + "/authorize",
		"/api/v1/follow_requests/12345/authorize", "/api/v1/follow_requests/nope/reject"} {
		if code := a.call("POST", path, alice, url.Values{}, nil); code != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, code)
		}
	}
	a.mustCall("GET", "/api/v1/accounts/relationships?id[]="+aliceID, carol, nil, &rels)
	if len(rels) != 1 || !rels[0].Following {
		t.Errorf("carol's follow changed by a late reject: %+v", rels)
	}
}

// TestReports: alice reports the Fedify peer's account and one of its
// notes, forwarded: the peer receives a Flag from the instance actor (not
// from alice) naming both. A local report stays here. Bad input is
// refused and stores nothing; answers match Mastodon's Report entity.
func TestReports(t *testing.T) {
	spec := loadMastodonSpec(t)
	peer := startFedify(t)
	a := startInstance(t, "A")
	alice, carol := a.user("alice"), a.user("carol")
	aliceURI := a.base + "/users/alice"
	fedi := a.resolve(alice, peer.acct())
	a.follow(alice, fedi)
	var note struct {
		ID string `json:"id"`
	}
	peer.control("POST", "/control/post", url.Values{"content": {"<p>buy now</p>"}, "visibility": {"public"}, "to": {aliceURI}}, &note)
	var st *api.Status
	waitFor(t, 20*time.Second, "the peer's note in alice's home", func() bool {
		st = a.homeStatus(alice, note.ID)
		return st != nil
	})

	report := func(token string, form url.Values) (int, []byte) {
		t.Helper()
		code, _, body := a.raw("POST", "/api/v1/reports", token, form)
		return code, body
	}
	code, body := report(alice, url.Values{"account_id": {fedi}, "status_ids[]": {st.ID}, "comment": {"spam, again"},
		"category": {"spam"}, "forward": {"true"}})
	if code != http.StatusOK {
		t.Fatalf("report: %d %s", code, body)
	}
	spec.check(t, "POST", "#/components/schemas/Report", body)
	var rep struct {
		Forwarded bool     `json:"forwarded"`
		Category  string   `json:"category"`
		StatusIDs []string `json:"status_ids"`
	}
	_ = json.Unmarshal(body, &rep)
	if !rep.Forwarded || rep.Category != "spam" || len(rep.StatusIDs) != 1 {
		t.Errorf("report %s", body)
	}
	flag := peer.waitActivity("the forwarded Flag", func(r fedifyReceived) bool { return r.Type == "Flag" })
	objects := iris(flag.Raw["object"])
	if flag.Actor != a.base+"/actor" || len(objects) != 2 || objects[0] != peer.actor() || objects[1] != note.ID ||
		flag.Raw["content"] != "spam, again" {
		t.Errorf("Flag from %s: %v", flag.Actor, flag.Raw)
	}

	// A local account's report stays here.
	carolID := a.accountID(alice, "carol")
	code, body = report(alice, url.Values{"account_id": {carolID}, "forward": {"true"}})
	if code != http.StatusOK || !strings.Contains(string(body), `"forwarded":false`) || !strings.Contains(string(body), `"category":"other"`) {
		t.Errorf("local report: %d %s", code, body)
	}

	readOnly := must(adminOf(a).CreateToken(t.Context(), "alice", "read"))
	for _, tt := range []struct {
		name  string
		token string
		form  url.Values
		want  int
	}{
		{"unknown account", alice, url.Values{"account_id": {"12345"}}, 404},
		{"no account", alice, url.Values{"comment": {"x"}}, 404},
		{"another's status", alice, url.Values{"account_id": {fedi}, "status_ids[]": {must(carolStatus(a, carol))}}, 404},
		{"bad category", alice, url.Values{"account_id": {fedi}, "category": {"rude"}}, 422},
		{"long comment", alice, url.Values{"account_id": {fedi}, "comment": {strings.Repeat("x", 1001)}}, 422},
		{"a rule that does not exist", alice, url.Values{"account_id": {fedi}, "rule_ids[]": {"1"}}, 422},
		{"oneself", alice, url.Values{"account_id": {a.accountID(alice, "alice")}}, 422},
		{"read-only token", readOnly, url.Values{"account_id": {fedi}}, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := report(tt.token, tt.form); code != tt.want || !strings.Contains(string(body), `"error"`) {
				t.Errorf("%d %s, want %d with an error", code, body, tt.want)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	flags := 0
	for _, r := range peer.received() {
		if r.Type == "Flag" {
			flags++
		}
	}
	if flags != 1 {
		t.Errorf("the peer got %d Flags, want 1", flags)
	}
}

func carolStatus(a *instance, token string) (string, error) {
	var st api.Status
	if code := a.call("POST", "/api/v1/statuses", token, url.Values{"status": {"carol's"}}, &st); code != http.StatusOK {
		return "", fmt.Errorf("post: %d", code)
	}
	return st.ID, nil
}
