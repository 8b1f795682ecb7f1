package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/queue"
)

// accountID looks a local account up by username.
func (in *instance) accountID(token, username string) string {
	in.t.Helper()
	var a api.Account
	in.mustCall("GET", "/api/v1/accounts/lookup?acct="+username, token, nil, &a)
	return a.ID
}

func (in *instance) post(token, text string) api.Status {
	in.t.Helper()
	var st api.Status
	in.mustCall("POST", "/api/v1/statuses", token, url.Values{"status": {text}}, &st)
	return st
}

// homeURIs returns the URIs of the token's home timeline, a boost as
// "boost:" plus the boosted status's URI.
func (in *instance) homeURIs(token string) []string {
	in.t.Helper()
	var page []api.Status
	in.mustCall("GET", "/api/v1/timelines/home?limit=40", token, nil, &page)
	var out []string
	for _, st := range page {
		if st.Reblog != nil {
			out = append(out, "boost:"+st.Reblog.URI)
		} else {
			out = append(out, st.URI)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// streamEvent is what both transports deliver.
type streamEvent struct {
	Stream  []string `json:"stream"`
	Event   string   `json:"event"`
	Payload string   `json:"payload"`
}

// sse opens a Server-Sent Events stream and returns its events. It returns
// once the server has registered the client (its first comment arrived).
func sse(t *testing.T, rawURL string, header http.Header) <-chan streamEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req := must(http.NewRequestWithContext(ctx, "GET", rawURL, nil))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s: %d %s", rawURL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("first line of %s: %q %v", rawURL, line, err)
	}
	ch := make(chan streamEvent, 64)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		var ev streamEvent
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Payload = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.Event != "":
				ch <- ev
				ev = streamEvent{}
			}
		}
	}()
	return ch
}

// expect waits for an event matching want and fails after d.
func expect(t *testing.T, ch <-chan streamEvent, what string, want func(streamEvent) bool) streamEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed waiting for %s", what)
			}
			if want(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func statusEvent(event, uri string) func(streamEvent) bool {
	return func(ev streamEvent) bool {
		var st api.Status
		return ev.Event == event && json.Unmarshal([]byte(ev.Payload), &st) == nil && st.URI == uri
	}
}

// TestStreaming: the same events over the multiplexed WebSocket (a real
// WebSocket client, token in Sec-WebSocket-Protocol) and SSE (token by
// header, by query, and none for public streams).
func TestStreaming(t *testing.T) {
	a := startInstance(t, "A")
	alice, bob, carol := a.user("alice"), a.user("bob"), a.user("carol")
	a.mustCall("POST", "/api/v1/accounts/"+a.accountID(bob, "alice")+"/follow", bob, url.Values{}, nil)
	wsBase := "ws://" + a.cfg.Domain

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, wsBase+"/api/v1/streaming", &websocket.DialOptions{Subprotocols: []string{bob}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.CloseNow()
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != bob || conn.Subprotocol() != bob {
		t.Errorf("Sec-WebSocket-Protocol echoed %q, want the token", got)
	}
	for _, sub := range []string{`{"type":"subscribe","stream":"user"}`, `{"type":"subscribe","stream":"hashtag","tag":"Fun"}`,
		`{"type":"subscribe","stream":"nonsense"}`} {
		if err := conn.Write(ctx, websocket.MessageText, []byte(sub)); err != nil {
			t.Fatal(err)
		}
	}
	ws := make(chan streamEvent, 64)
	go func() {
		defer close(ws)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var ev streamEvent
			if json.Unmarshal(data, &ev) == nil {
				ws <- ev
			}
		}
	}()
	// The error answering the bad subscription comes after the good ones
	// took effect: the client is registered from here on.
	expect(t, ws, "the error for an unknown stream", func(ev streamEvent) bool { return ev.Event == "error" })

	// A WebSocket without a token may not have a user stream.
	anon, _, err := websocket.Dial(ctx, wsBase+"/api/v1/streaming?stream=user", nil)
	if err == nil {
		if _, _, err = anon.Read(ctx); err == nil {
			t.Error("an anonymous WebSocket got a user stream")
		}
		anon.CloseNow()
	}

	auth := http.Header{"Authorization": {"Bearer " + bob}}
	user := sse(t, a.base+"/api/v1/streaming/user", auth)
	notes := sse(t, a.base+"/api/v1/streaming/user/notification?access_token="+url.QueryEscape(bob), nil)
	local := sse(t, a.base+"/api/v1/streaming/public/local", nil)
	tag := sse(t, a.base+"/api/v1/streaming/hashtag?tag=fun", nil)
	if code := a.call("GET", "/api/v1/streaming/user", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("user stream without a token: %d, want 401", code)
	}

	post := a.post(alice, "streaming is #fun")
	ev := expect(t, ws, "update on the WebSocket user stream", statusEvent("update", post.URI))
	if fmt.Sprint(ev.Stream) != "[user]" {
		t.Errorf("WebSocket update for stream %v, want [user]", ev.Stream)
	}
	expect(t, ws, "update on the WebSocket hashtag stream", func(ev streamEvent) bool {
		return statusEvent("update", post.URI)(ev) && fmt.Sprint(ev.Stream) == "[hashtag fun]"
	})
	expect(t, user, "update on SSE user", statusEvent("update", post.URI))
	expect(t, local, "update on SSE public/local", statusEvent("update", post.URI))
	expect(t, tag, "update on SSE hashtag", statusEvent("update", post.URI))

	// An edit reaches the same streams as a status.update, rendered anew,
	// with the reader's own flags on the user stream: bob favourited it.
	a.mustCall("POST", "/api/v1/statuses/"+post.ID+"/favourite", bob, url.Values{}, nil)
	a.mustCall("PUT", "/api/v1/statuses/"+post.ID, alice, url.Values{"status": {"streaming is still #fun, edited"}}, nil)
	for name, ch := range map[string]<-chan streamEvent{"SSE user": user, "SSE hashtag": tag} {
		ev := expect(t, ch, "status.update on "+name, statusEvent("status.update", post.URI))
		if !strings.Contains(ev.Payload, "edited") {
			t.Errorf("status.update on %s carries %s, not the edited text", name, ev.Payload)
		}
		if name == "SSE user" && !strings.Contains(ev.Payload, `"favourited":true`) {
			t.Errorf("status.update on bob's user stream lacks his favourite: %s", ev.Payload)
		}
	}

	var tagged []api.Status
	a.mustCall("GET", "/api/v1/timelines/tag/FUN", "", nil, &tagged)
	if len(tagged) != 1 || tagged[0].URI != post.URI {
		t.Errorf("tag timeline: %d statuses", len(tagged))
	}

	// A status bob's feed does not get is not on his user stream.
	quiet := a.post(carol, "bob does not follow me")
	expect(t, local, "carol's post on public/local", statusEvent("update", quiet.URI))

	a.mustCall("POST", "/api/v1/accounts/"+a.accountID(carol, "bob")+"/follow", carol, url.Values{}, nil)
	isFollow := func(ev streamEvent) bool {
		var n api.Notification
		return ev.Event == "notification" && json.Unmarshal([]byte(ev.Payload), &n) == nil &&
			n.Type == "follow" && n.Account.Username == "carol"
	}
	expect(t, notes, "follow notification on SSE user/notification", isFollow)
	expect(t, ws, "follow notification on the WebSocket", isFollow)

	a.mustCall("DELETE", "/api/v1/statuses/"+post.ID, alice, nil, nil)
	isDelete := func(ev streamEvent) bool { return ev.Event == "delete" && ev.Payload == post.ID }
	expect(t, ws, "delete on the WebSocket", isDelete)
	expect(t, user, "delete on SSE user", isDelete)
	for _, ev := range drain(user) {
		if statusEvent("update", quiet.URI)(ev) {
			t.Error("bob's user stream got a status that is not in his feed")
		}
	}
}

func drain(ch <-chan streamEvent) []streamEvent {
	var out []streamEvent
	for {
		select {
		case ev := <-ch:
			out = append(out, ev)
		default:
			return out
		}
	}
}

var linkRe = regexp.MustCompile(`<([^>]+)>; rel="(next|prev)"`)

// page reads a timeline page and its Link header's next and prev URLs.
func (in *instance) page(token, path string) (ids []string, next, prev string) {
	in.t.Helper()
	req := must(http.NewRequest("GET", in.base+path, nil))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		in.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	var page []api.Status
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		in.t.Fatal(err)
	}
	for _, st := range page {
		ids = append(ids, st.ID)
	}
	for _, m := range linkRe.FindAllStringSubmatch(resp.Header.Get("Link"), -1) {
		u := must(url.Parse(m[1]))
		if m[2] == "next" {
			next = u.RequestURI()
		} else {
			prev = u.RequestURI()
		}
	}
	if (len(page) == 0) != (resp.Header.Get("Link") == "") {
		in.t.Errorf("GET %s: %d statuses with Link %q", path, len(page), resp.Header.Get("Link"))
	}
	return ids, next, prev
}

func TestTimelinePagination(t *testing.T) {
	a := startInstance(t, "A")
	alice := a.user("alice")
	const n = 42
	var ids []string // oldest first
	for i := range n {
		ids = append(ids, a.post(alice, fmt.Sprintf("post %d", i)).ID)
	}
	waitFor(t, 10*time.Second, "every post in the home feed", func() bool {
		got, _, _ := a.page(alice, "/api/v1/timelines/home?limit=1")
		return len(got) == 1 && got[0] == ids[n-1]
	})
	newest := func(k int) []string { // ids[k..] newest first
		var out []string
		for i := len(ids) - 1; i >= k; i-- {
			out = append(out, ids[i])
		}
		return out
	}
	home := "/api/v1/timelines/home"
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"default limit is 20", "", newest(n - 20)},
		{"limit is capped at 40", "?limit=100", newest(2)},
		{"max_id", "?limit=3&max_id=" + ids[10], []string{ids[9], ids[8], ids[7]}},
		{"since_id gives the newest above it", "?limit=2&since_id=" + ids[3], []string{ids[41], ids[40]}},
		{"min_id gives the oldest above it, newest first", "?limit=2&min_id=" + ids[3], []string{ids[5], ids[4]}},
		{"max_id and since_id", "?max_id=" + ids[6] + "&since_id=" + ids[3], []string{ids[5], ids[4]}},
		{"min_id of the newest is empty", "?min_id=" + ids[n-1], nil},
		{"max_id of the oldest is empty", "?max_id=" + ids[0], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _ := a.page(alice, home+tc.query)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	// Walking next links pages through everything once, with a short last
	// page and an empty page without Link after it; prev goes back.
	for _, limit := range []int{5, 6, 42} { // short last page (5, 40), exact (6), capped at 40
		seen := map[string]bool{}
		next := fmt.Sprintf("%s?limit=%d", home, limit)
		pages := 0
		for next != "" {
			got, nxt, prev := a.page(alice, next)
			if len(got) == 0 {
				if nxt != "" || prev != "" {
					t.Errorf("limit %d: empty page has links", limit)
				}
				break
			}
			pages++
			for _, id := range got {
				if seen[id] {
					t.Errorf("limit %d: %s seen twice", limit, id)
				}
				seen[id] = true
			}
			if pages == 2 {
				back, _, _ := a.page(alice, prev)
				if len(back) != min(limit, 40) {
					t.Errorf("limit %d: prev of page 2 has %d statuses", limit, len(back))
				}
			}
			next = nxt
		}
		if len(seen) != n {
			t.Errorf("limit %d: walked %d statuses, want %d", limit, len(seen), n)
		}
	}
	// Gaps: min_id walks upward from an old id without skipping.
	var up []string
	cursor := ids[0]
	for {
		got, _, _ := a.page(alice, home+"?limit=4&min_id="+cursor)
		if len(got) == 0 {
			break
		}
		for i := len(got) - 1; i >= 0; i-- {
			up = append(up, got[i])
		}
		cursor = got[0]
	}
	if fmt.Sprint(up) != fmt.Sprint(ids[1:]) {
		t.Errorf("walking up with min_id: %d statuses, want %d in order", len(up), n-1)
	}
}

// TestInteractions drives boosts, favourites, unfollow, block and mute
// through the API and checks feeds and notifications.
func TestInteractions(t *testing.T) {
	a := startInstance(t, "A")
	alice, bob, carol, mike := a.user("alice"), a.user("bob"), a.user("carol"), a.user("mike")
	aliceID, carolID, mikeID := a.accountID(bob, "alice"), a.accountID(bob, "carol"), a.accountID(bob, "mike")
	for _, id := range []string{aliceID, carolID, mikeID} {
		a.mustCall("POST", "/api/v1/accounts/"+id+"/follow", bob, url.Values{}, nil)
	}
	a.mustCall("POST", "/api/v1/accounts/"+carolID+"/follow", alice, url.Values{}, nil)

	stranger := a.user("stranger")
	p := a.post(stranger, "boost me")
	var boost api.Status
	a.mustCall("POST", "/api/v1/statuses/"+p.ID+"/reblog", alice, nil, &boost)
	if boost.Reblog == nil || boost.Reblog.URI != p.URI || !boost.Reblog.Reblogged {
		t.Fatalf("reblog answered %+v", boost)
	}
	waitFor(t, 5*time.Second, "the boost in bob's feed", func() bool { return contains(a.homeURIs(bob), "boost:"+p.URI) })
	a.mustCall("POST", "/api/v1/statuses/"+p.ID+"/reblog", carol, nil, nil) // already boosted into bob's feed
	a.mustCall("POST", "/api/v1/statuses/"+p.ID+"/favourite", alice, nil, nil)
	a.mustCall("POST", "/api/v1/statuses/"+p.ID+"/favourite", alice, nil, nil) // twice: one favourite
	var notes []api.Notification
	waitFor(t, 5*time.Second, "stranger's notifications", func() bool {
		a.mustCall("GET", "/api/v1/notifications", stranger, nil, &notes)
		return len(notes) == 3
	})
	kinds := map[string]int{}
	for _, n := range notes {
		kinds[n.Type+" by "+n.Account.Username]++
	}
	if fmt.Sprint(kinds) != "map[favourite by alice:1 reblog by alice:1 reblog by carol:1]" {
		t.Errorf("notifications %v", kinds)
	}
	var one api.Notification
	a.mustCall("GET", "/api/v1/notifications/"+notes[0].ID, stranger, nil, &one)
	if one.ID != notes[0].ID || one.Status == nil {
		t.Errorf("notification by id: %+v", one)
	}
	if code := a.call("GET", "/api/v1/notifications/"+notes[0].ID, bob, nil, nil); code != http.StatusNotFound {
		t.Errorf("someone else's notification: %d, want 404", code)
	}
	a.mustCall("POST", "/api/v1/notifications/"+notes[0].ID+"/dismiss", stranger, url.Values{}, nil)
	a.mustCall("GET", "/api/v1/notifications", stranger, nil, &notes)
	if len(notes) != 2 {
		t.Errorf("after dismiss: %d notifications, want 2", len(notes))
	}
	a.mustCall("POST", "/api/v1/notifications/clear", stranger, url.Values{}, nil)
	a.mustCall("GET", "/api/v1/notifications", stranger, nil, &notes)
	if len(notes) != 0 {
		t.Errorf("after clear: %d notifications", len(notes))
	}
	home := a.homeURIs(bob)
	boosts := 0
	for _, u := range home {
		if u == "boost:"+p.URI {
			boosts++
		}
	}
	if boosts != 1 {
		t.Errorf("the status stands %d times in bob's feed, want 1", boosts)
	}
	a.mustCall("POST", "/api/v1/statuses/"+p.ID+"/unreblog", alice, nil, nil)
	a.mustCall("POST", "/api/v1/statuses/"+p.ID+"/unreblog", carol, nil, nil)
	waitFor(t, 5*time.Second, "the boost gone from bob's feed", func() bool { return !contains(a.homeURIs(bob), "boost:"+p.URI) })

	fromAlice, fromCarol, fromMike := a.post(alice, "a"), a.post(carol, "c"), a.post(mike, "m")
	waitFor(t, 5*time.Second, "three posts in bob's feed", func() bool {
		h := a.homeURIs(bob)
		return contains(h, fromAlice.URI) && contains(h, fromCarol.URI) && contains(h, fromMike.URI)
	})
	var rel api.Relationship
	a.mustCall("POST", "/api/v1/accounts/"+aliceID+"/unfollow", bob, url.Values{}, &rel)
	a.mustCall("POST", "/api/v1/accounts/"+carolID+"/block", bob, url.Values{}, &rel)
	if !rel.Blocking || rel.Following {
		t.Errorf("after block: %+v", rel)
	}
	a.mustCall("POST", "/api/v1/accounts/"+mikeID+"/mute", bob, url.Values{}, &rel)
	if !rel.Muting {
		t.Errorf("after mute: %+v", rel)
	}
	waitFor(t, 5*time.Second, "unfollowed, blocked and muted accounts gone from bob's feed", func() bool {
		h := a.homeURIs(bob)
		return !contains(h, fromAlice.URI) && !contains(h, fromCarol.URI) && !contains(h, fromMike.URI)
	})
	// Later posts of a muted account stay out; the blocked one no longer
	// follows bob (a block ends follows both ways).
	later := a.post(mike, "still muted")
	marker := a.post(bob, "marker")
	waitFor(t, 5*time.Second, "bob's marker", func() bool { return contains(a.homeURIs(bob), marker.URI) })
	if contains(a.homeURIs(bob), later.URI) {
		t.Error("a muted account's new post reached the feed")
	}

	var blocked []string
	a.mustCall("POST", "/api/v1/domain_blocks", bob, url.Values{"domain": {"Spam.Example"}}, nil)
	a.mustCall("GET", "/api/v1/domain_blocks", bob, nil, &blocked)
	if fmt.Sprint(blocked) != "[spam.example]" {
		t.Errorf("domain blocks %v", blocked)
	}

	// Public timelines and an account's statuses.
	var pub []api.Status
	a.mustCall("GET", "/api/v1/timelines/public?local=true&limit=40", "", nil, &pub)
	if len(pub) == 0 {
		t.Error("the local timeline is empty")
	}
	var own []api.Status
	a.mustCall("GET", "/api/v1/accounts/"+mikeID+"/statuses", bob, nil, &own)
	if len(own) != 2 {
		t.Errorf("mike has %d statuses, want 2", len(own))
	}
}

// TestDuplicateDeliveryAndReplay: a Create delivered twice to another
// server is stored once, and a replayed timeline event adds nothing to any
// feed: the builder's feed_fanouts marker says the status was fanned out.
// The feed entry is removed before the replay (as the trimmer or an
// unmerge would), so a builder that fanned out again would put it back.
func TestDuplicateDeliveryAndReplay(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	skipUnlessPostgres(t, a)
	alice := a.user("alice")
	bob := b.user("bob")
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))
	post := a.post(alice, "only once, please")
	waitFor(t, 5*time.Second, "the post on B", func() bool { return b.home(bob, post.URI) > 0 })

	ctx := context.Background()
	create := post.URI + "/activity"
	var activityID, actorID int64
	if err := a.srv.DB.Pool().QueryRow(ctx, `SELECT id, actor_id FROM activities WHERE uri = $1`, create).
		Scan(&activityID, &actorID); err != nil {
		t.Fatal(err)
	}
	topo := must(queue.NewTopology(a.cfg.NATSPrefix))
	delivery := must(json.Marshal(queue.DeliveryMessage{ActivityID: activityID, ActorID: actorID, Inbox: b.base + "/inbox"}))
	if err := a.srv.Store.AppendEvents(ctx, starling.Event{MsgID: "test-redeliver", Subject: topo.DeliverySubject(b.cfg.Domain),
		Payload: delivery}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the second delivery", func() bool { posts, _ := b.inbox.count(create); return posts == 2 })
	var copies int
	if err := b.srv.DB.Pool().QueryRow(ctx, `SELECT count(*) FROM statuses WHERE uri = $1`, post.URI).Scan(&copies); err != nil {
		t.Fatal(err)
	}
	if copies != 1 {
		t.Errorf("B stored the status %d times, want once", copies)
	}

	var statusID int64
	if err := b.srv.DB.Pool().QueryRow(ctx, `SELECT id FROM statuses WHERE uri = $1`, post.URI).Scan(&statusID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.srv.DB.Pool().Exec(ctx, `DELETE FROM home_feed WHERE status_id = $1`, statusID); err != nil {
		t.Fatal(err)
	}
	acked := func() int { return b.metric(`starling_queue_messages_total{consumer="timeline",outcome="ack"}`) }
	before := acked()
	replay := must(json.Marshal(queue.TimelineEvent{StatusID: statusID}))
	for i := range 2 {
		if err := b.srv.Store.AppendEvents(ctx, starling.Event{MsgID: fmt.Sprintf("test-replay-%d", i),
			Subject: topo.Subject(queue.Timeline, queue.StatusCreated), Payload: replay}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "the replays applied and acked", func() bool { return acked() >= before+2 })
	var rows int
	if err := b.srv.DB.Pool().QueryRow(ctx, `SELECT count(*) FROM home_feed WHERE status_id = $1`, statusID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("the replays put the status back into %d feeds, want none", rows)
	}
	if n := a.home(alice, post.URI); n != 1 {
		t.Errorf("alice's feed holds the post %d times, want 1", n)
	}
}

// TestFederatedInteractions: boosts, likes and their Undos, and a block,
// sent by one server and applied by another's inbox.
func TestFederatedInteractions(t *testing.T) {
	a := startInstance(t, "A")
	b := startInstance(t, "B")
	alice, dave := a.user("alice"), a.user("dave")
	bob := b.user("bob")
	b.follow(bob, b.resolve(bob, "alice@"+a.cfg.Domain))
	bobOnA := a.resolve(dave, "bob@"+b.cfg.Domain)
	a.follow(dave, bobOnA)

	post := a.post(alice, "boost me from afar")
	waitFor(t, 5*time.Second, "the post on B", func() bool { return b.home(bob, post.URI) > 0 })
	var onB []api.Status
	b.mustCall("GET", "/api/v1/timelines/home", bob, nil, &onB)
	remoteID := ""
	for _, st := range onB {
		if st.URI == post.URI {
			remoteID = st.ID
		}
	}
	b.mustCall("POST", "/api/v1/statuses/"+remoteID+"/reblog", bob, nil, nil)
	b.mustCall("POST", "/api/v1/statuses/"+remoteID+"/favourite", bob, nil, nil)
	waitFor(t, 10*time.Second, "bob's boost in dave's feed on A", func() bool { return contains(a.homeURIs(dave), "boost:"+post.URI) })
	waitFor(t, 10*time.Second, "alice notified of the boost and the like", func() bool {
		var notes []api.Notification
		a.mustCall("GET", "/api/v1/notifications", alice, nil, &notes)
		kinds := map[string]bool{}
		for _, n := range notes {
			kinds[n.Type+" "+n.Account.Acct] = true
		}
		return kinds["reblog bob@"+b.cfg.Domain] && kinds["favourite bob@"+b.cfg.Domain]
	})

	b.mustCall("POST", "/api/v1/statuses/"+remoteID+"/unreblog", bob, nil, nil)
	waitFor(t, 10*time.Second, "the boost gone from dave's feed", func() bool { return !contains(a.homeURIs(dave), "boost:"+post.URI) })
	b.mustCall("POST", "/api/v1/statuses/"+remoteID+"/unfavourite", bob, nil, nil)
	waitFor(t, 10*time.Second, "the favourite withdrawn on A", func() bool {
		var st api.Status
		a.mustCall("GET", "/api/v1/statuses/"+post.ID, alice, nil, &st)
		return st.FavouritesCount == 0
	})

	// dave's follow, arriving from A, notified bob.
	var bobNotes []api.Notification
	b.mustCall("GET", "/api/v1/notifications?types[]=follow", bob, nil, &bobNotes)
	if len(bobNotes) != 1 || bobNotes[0].Account.Acct != "dave@"+a.cfg.Domain {
		t.Errorf("bob's follow notifications: %+v", bobNotes)
	}

	// bob blocks dave: A learns of it, the follow ends, bob's posts leave dave's feed.
	fromBob := b.post(bob, "before the block")
	waitFor(t, 10*time.Second, "bob's post in dave's feed", func() bool { return a.home(dave, fromBob.URI) == 1 })
	b.mustCall("POST", "/api/v1/accounts/"+b.resolve(bob, "dave@"+a.cfg.Domain)+"/block", bob, url.Values{}, nil)
	waitFor(t, 10*time.Second, "bob's post gone from dave's feed", func() bool { return a.home(dave, fromBob.URI) == 0 })
	var rels []api.Relationship
	a.mustCall("GET", "/api/v1/accounts/relationships?id[]="+bobOnA, dave, nil, &rels)
	if len(rels) != 1 || rels[0].Following {
		t.Errorf("dave still follows bob after bob's block: %+v", rels)
	}
}

// TestStreamingFromAnotherProcess: a second api process (its own HTTP
// server, its own NATS connection, the same database and NATS server)
// streams a post made through the first, so any api process can serve any
// user's stream.
func TestStreamingFromAnotherProcess(t *testing.T) {
	a := startInstance(t, "A")
	alice, bob := a.user("alice"), a.user("bob")
	a.mustCall("POST", "/api/v1/accounts/"+a.accountID(bob, "alice")+"/follow", bob, url.Values{}, nil)

	nc, err := a.srv.NATS.Clone("second api process")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	second := &api.Server{Store: a.srv.Store, Site: site(&a.cfg), Logger: testLogger(t, "A2"),
		Streaming: &api.Streaming{Events: nc}}
	second.Streaming.Server = second
	ctx, cancel := context.WithCancel(context.Background())
	streamed := make(chan error, 1)
	go func() { streamed <- second.Streaming.Run(ctx) }()
	srv := httptest.NewServer(second.Handler())
	defer srv.Close()
	// Runs first: dropping the streams lets srv.Close find no request open.
	defer func() {
		cancel()
		if err := <-streamed; err != nil {
			t.Error(err)
		}
	}()

	user := sse(t, srv.URL+"/api/v1/streaming/user", http.Header{"Authorization": {"Bearer " + bob}})
	post := a.post(alice, "posted through the first process")
	expect(t, user, "the update on the second process's stream", statusEvent("update", post.URI))
}
