package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/queue"
)

// Streaming serves Mastodon's streaming API from the events the timeline
// builder publishes on core NATS (queue.StreamMessage). Every api process
// subscribes to all of them and keeps only what its own clients want, so
// any process can serve any user's stream.
//
// A status update is one message however many followers see it: the
// process asks the store, once per status, which of the accounts it serves
// have it in their home feed. Each client has a bounded queue; a client
// that does not keep up is disconnected rather than buffered without bound.
type Streaming struct {
	// Events delivers the builder's events; a *queue.Conn.
	Events StreamSubscriber
	// Server is the API server whose store and render cache the events
	// are rendered with (the one whose Streaming this is).
	Server *Server
	// Heartbeat is the interval of SSE comments and WebSocket pings;
	// default 15 s (Mastodon's).
	Heartbeat time.Duration
	// Buffer is how many events a client may have unsent before it is
	// disconnected; default 128.
	Buffer int

	mu      sync.Mutex
	clients map[*streamClient]struct{}
}

// StreamSubscriber delivers the timeline builder's streaming events (JSON
// of queue.StreamMessage) to handle, one at a time, until stop is called.
// *queue.Conn is one.
type StreamSubscriber interface {
	SubscribeStream(handle func(data []byte)) (stop func(), err error)
}

func (st *Streaming) heartbeat() time.Duration {
	if st.Heartbeat <= 0 {
		return 15 * time.Second
	}
	return st.Heartbeat
}

func (st *Streaming) buffer() int {
	if st.Buffer <= 0 {
		return 128
	}
	return st.Buffer
}

// streamClient is one connection, subscribed to one or more streams.
type streamClient struct {
	account *starling.Account // nil when unauthenticated (public streams only)
	out     chan streamEvent
	gone    chan struct{} // closed when the client is dropped
	once    sync.Once

	mu      sync.Mutex
	streams map[string]bool // "user", "user:notification", "public", "public:local", "public:remote", "hashtag:<tag>", "hashtag:local:<tag>", "list:<id>"
}

// label is Mastodon's "stream" array for a stream key: ["user"],
// ["public:local"], ["hashtag", "tag"], ["hashtag:local", "tag"].
func label(name string) []string {
	if rest, ok := strings.CutPrefix(name, "hashtag:local:"); ok {
		return []string{"hashtag:local", rest}
	}
	if rest, ok := strings.CutPrefix(name, "hashtag:"); ok {
		return []string{"hashtag", rest}
	}
	if rest, ok := strings.CutPrefix(name, "list:"); ok {
		return []string{"list", rest}
	}
	return []string{name}
}

type streamEvent struct {
	Stream  []string `json:"stream"`
	Event   string   `json:"event"`
	Payload string   `json:"payload"`
}

func (c *streamClient) drop() { c.once.Do(func() { close(c.gone) }) }

func (c *streamClient) has(stream string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[stream]
}

// send queues ev without blocking; a full queue drops the client.
func (c *streamClient) send(ev streamEvent) {
	select {
	case c.out <- ev:
	case <-c.gone:
	default:
		c.drop()
	}
}

// Run receives the builder's events and sends them to the clients that
// want them until ctx ends; then it stops receiving, drops every client
// (Close) and returns nil.
func (st *Streaming) Run(ctx context.Context) error {
	stop, err := st.Events.SubscribeStream(func(data []byte) { st.dispatch(st.Server, data) })
	if err != nil {
		return fmt.Errorf("subscribe to streaming events: %w", err)
	}
	<-ctx.Done()
	stop()
	st.Close()
	return nil
}

// Close drops every client; their requests end. Run calls it when it
// returns; an HTTP server calls it as shutdown begins (streams never go
// idle, so a graceful shutdown would otherwise wait for them).
func (st *Streaming) Close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for c := range st.clients {
		c.drop()
	}
}

// Clients returns how many connections are streaming from this process.
func (st *Streaming) Clients() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.clients)
}

func (st *Streaming) add(c *streamClient) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.clients == nil {
		st.clients = map[*streamClient]struct{}{}
	}
	st.clients[c] = struct{}{}
}

func (st *Streaming) remove(c *streamClient) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.clients, c)
	c.drop()
}

func (st *Streaming) snapshot() []*streamClient {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]*streamClient, 0, len(st.clients))
	for c := range st.clients {
		out = append(out, c)
	}
	return out
}

// dispatch turns one builder event into the events of the clients that
// want it. It runs on the subscription's goroutine, one event at a time,
// so events reach each client in the order they were published.
func (st *Streaming) dispatch(s *Server, data []byte) {
	var m queue.StreamMessage
	if err := json.Unmarshal(data, &m); err != nil {
		s.Logger.Warn("bad streaming event", "error", err)
		return
	}
	if m.Event == "delete" || m.Event == "status.update" {
		s.rendered.forget(m.StatusID) // an edit is rendered anew, too
	}
	clients := st.snapshot()
	if len(clients) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch m.Event {
	case "update", "status.update":
		st.update(ctx, s, m, clients)
	case "delete":
		st.deleted(ctx, s, m, clients)
	case "notification":
		var payload string
		for _, c := range clients {
			if c.account == nil || c.account.ID != m.AccountID {
				continue
			}
			for _, name := range []string{"user", "user:notification"} {
				if !c.has(name) {
					continue
				}
				if payload == "" {
					n, err := s.Store.NotificationByID(ctx, m.AccountID, m.NotificationID)
					if err != nil {
						return // dismissed already, or the store is away: nothing to send
					}
					// Filtered for its one reader, as the REST read is (filter_apply.go).
					out := s.filterNotifications(ctx, c.account, []*Notification{s.notification(ctx, n)})
					if len(out) == 0 {
						return // its status is hidden in notifications
					}
					b, _ := json.Marshal(out[0])
					payload = string(b)
				}
				c.send(streamEvent{Stream: label(name), Event: "notification", Payload: payload})
			}
		}
	}
}

// deleted sends a deletion only where the status could have been seen: a
// public or unlisted one on every stream (it was public knowledge), a
// private or direct one only on the user streams of its author, of the
// accounts it mentions and, when private, of the author's followers. The
// id of a private status is not for anonymous or unrelated readers.
func (st *Streaming) deleted(ctx context.Context, s *Server, m queue.StreamMessage, clients []*streamClient) {
	author, visibility, err := s.Store.StatusReach(ctx, m.StatusID)
	if err != nil {
		s.Logger.Warn("streaming: who saw a deleted status", "status_id", m.StatusID, "error", err)
		return // not knowing who may know of it, tell nobody
	}
	public := visibility == starling.VisibilityPublic || visibility == starling.VisibilityUnlisted
	allowed := map[int64]bool{author: true}
	if !public {
		var readers []int64
		for _, c := range clients {
			if c.account != nil && c.account.ID != author { // user and list streams
				readers = append(readers, c.account.ID)
			}
		}
		if len(readers) > 0 {
			mentioned, err := s.Store.StatusMentionIDs(ctx, m.StatusID)
			if err != nil {
				s.Logger.Warn("streaming: mentions of a deleted status", "status_id", m.StatusID, "error", err)
				return
			}
			for _, id := range mentioned {
				allowed[id] = true
			}
			if visibility == starling.VisibilityPrivate {
				followers, err := s.Store.FollowersAmong(ctx, author, readers)
				if err != nil {
					s.Logger.Warn("streaming: followers of a deleted status's author", "status_id", m.StatusID, "error", err)
					return
				}
				for _, id := range followers {
					allowed[id] = true
				}
			}
		}
	}
	payload := strconv.FormatInt(m.StatusID, 10)
	for _, c := range clients {
		for _, name := range c.names() {
			switch {
			case name == "user:notification":
			case public, (name == "user" || strings.HasPrefix(name, "list:")) && c.account != nil && allowed[c.account.ID]:
				c.send(streamEvent{Stream: label(name), Event: "delete", Payload: payload})
			}
		}
	}
}

func (c *streamClient) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.streams))
	for k := range c.streams {
		out = append(out, k)
	}
	return out
}

// update sends a new status to the home streams whose feed got it and to
// the public and hashtag streams it belongs on.
func (st *Streaming) update(ctx context.Context, s *Server, m queue.StreamMessage, clients []*streamClient) {
	var home []int64
	for _, c := range clients {
		if c.account != nil && c.has("user") {
			home = append(home, c.account.ID)
		}
	}
	inFeed := map[int64]bool{}
	if len(home) > 0 {
		members, err := s.Store.FeedMembers(ctx, m.StatusID, home)
		if err != nil {
			s.Logger.Warn("streaming: feed members", "status_id", m.StatusID, "error", err)
		}
		for _, id := range members {
			inFeed[id] = true
		}
	}
	inList := s.listsShowing(ctx, m.StatusID, clients) // lists.go
	var payload string
	var base *Status
	render := func() string {
		if payload == "" {
			it, err := s.Store.ItemByID(ctx, 0, m.StatusID)
			if err != nil {
				return ""
			}
			base = s.item(ctx, it)
			b, _ := json.Marshal(base)
			payload = string(b)
		}
		return payload
	}
	for _, c := range clients {
		var names []string
		if c.account != nil && inFeed[c.account.ID] && c.has("user") {
			names = append(names, "user")
		}
		names = append(names, c.lists(inList)...)
		if m.Public {
			candidates := []string{"public", "public:remote"}
			if m.Local {
				candidates[1] = "public:local"
			}
			for _, tag := range m.Tags {
				candidates = append(candidates, "hashtag:"+tag)
				if m.Local {
					candidates = append(candidates, "hashtag:local:"+tag)
				}
			}
			for _, n := range candidates {
				if c.has(n) {
					names = append(names, n)
				}
			}
		}
		if len(names) == 0 || render() == "" {
			continue
		}
		st, p := base, payload
		if m.Event == "status.update" && c.account != nil {
			// An edit is shown in place of a status the reader may have
			// favourited, boosted or bookmarked: with the reader's own
			// flags, as Mastodon renders it per recipient. (A new status
			// has none yet, so one rendering serves everyone.)
			mine := *base
			s.markViewer(ctx, c.account, &mine)
			if b, err := json.Marshal(&mine); err == nil {
				st, p = &mine, string(b)
			}
		}
		for _, name := range names {
			if out := s.filteredPayload(ctx, c.account, name, st, p); out != "" { // filter_apply.go
				c.send(streamEvent{Stream: label(name), Event: m.Event, Payload: out})
			}
		}
	}
}

// streamName validates a Mastodon stream name (with its tag) and returns
// the key the client is subscribed under.
func streamName(stream, tag string) (string, error) {
	tag = strings.ToLower(strings.TrimPrefix(tag, "#"))
	switch stream {
	case "user", "user:notification", "public", "public:local", "public:remote":
		return stream, nil
	case "public:media", "public:local:media", "public:remote:media":
		return strings.TrimSuffix(stream, ":media"), nil
	case "hashtag", "hashtag:local":
		if tag == "" {
			return "", errors.New("tag is required")
		}
		return stream + ":" + tag, nil
	case "list": // tag is the list's id here (lists.go)
		if n, ok := idParam(tag); !ok || n == 0 {
			return "", errors.New("list is required")
		}
		return "list:" + tag, nil
	}
	return "", fmt.Errorf("unknown stream %q", stream)
}

// streamAuth finds the account of a streaming request: the token comes as
// a bearer header, the access_token query parameter, or (for browsers'
// WebSockets, which cannot set headers) Sec-WebSocket-Protocol.
func (s *Server) streamAuth(r *http.Request) (a *starling.Account, token string, err error) {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		token = strings.TrimSpace(h[7:])
	} else if q := r.URL.Query().Get("access_token"); q != "" {
		token = q
	} else if p := r.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		token = strings.TrimSpace(strings.Split(p, ",")[0])
	}
	if token == "" {
		return nil, "", nil
	}
	sum := sha256.Sum256([]byte(token))
	a, scopes, err := s.Store.AccountByToken(r.Context(), sum[:])
	if err != nil {
		return nil, "", err
	}
	if !hasScope(strings.Fields(scopes), "read:statuses") && !hasScope(strings.Fields(scopes), "read:notifications") {
		return nil, "", errScope
	}
	return a, token, nil
}

var errScope = errors.New("outside the authorized scopes")

func (s *Server) newStreamClient(a *starling.Account) *streamClient {
	return &streamClient{account: a, out: make(chan streamEvent, s.Streaming.buffer()),
		gone: make(chan struct{}), streams: map[string]bool{}}
}

func (s *Server) authError(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, starling.ErrNotFound):
		writeError(w, http.StatusUnauthorized, "Invalid access token")
	case errors.Is(err, errScope):
		writeError(w, http.StatusForbidden, "This action is outside the authorized scopes")
	default:
		s.fail(w, r, err)
	}
	return true
}

// sse serves the Server-Sent Events endpoints: /api/v1/streaming/<stream>.
func (s *Server) sse(stream string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Streaming == nil {
			writeError(w, http.StatusServiceUnavailable, "Streaming is not available")
			return
		}
		a, _, err := s.streamAuth(r)
		if s.authError(w, r, err) {
			return
		}
		name, err := streamName(stream, streamArg(stream, r.URL.Query().Get("tag"), r.URL.Query().Get("list")))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if (strings.HasPrefix(name, "user") || strings.HasPrefix(name, "list:")) && a == nil {
			writeError(w, http.StatusUnauthorized, "Error: Missing access token")
			return
		}
		if err := s.checkListStream(r.Context(), a, name); err != nil { // lists.go
			s.fail(w, r, err)
			return
		}
		rc := http.NewResponseController(w)
		// The server's read timeout would end a stream after 30 s.
		_ = rc.SetReadDeadline(time.Time{})
		c := s.newStreamClient(a)
		c.streams[name] = true
		s.Streaming.add(c)
		defer s.Streaming.remove(c)

		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "private, no-store")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		write := func(text string) bool {
			// A client that cannot take an event within this deadline is
			// gone or too slow: drop it.
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprint(w, text); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		if !write(":)\n\n") {
			return
		}
		tick := time.NewTicker(s.Streaming.heartbeat())
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-c.gone:
				return
			case <-tick.C:
				if !write(":thump\n\n") {
					return
				}
			case ev := <-c.out:
				if !write("event: " + ev.Event + "\ndata: " + ev.Payload + "\n\n") {
					return
				}
			}
		}
	}
}

// wsRequest is a client's message on the multiplexed WebSocket.
type wsRequest struct {
	Type   string `json:"type"` // subscribe, unsubscribe
	Stream string `json:"stream"`
	Tag    string `json:"tag"`
	List   string `json:"list"`
}

// websocket serves the multiplexed WebSocket at /api/v1/streaming: streams
// are named by ?stream= and by subscribe/unsubscribe messages, and every
// event carries the stream it belongs to.
func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	if s.Streaming == nil {
		writeError(w, http.StatusServiceUnavailable, "Streaming is not available")
		return
	}
	a, token, err := s.streamAuth(r)
	if s.authError(w, r, err) {
		return
	}
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true} // bearer tokens, not cookies: no CSRF
	if token != "" && r.Header.Get("Sec-WebSocket-Protocol") != "" {
		opts.Subprotocols = []string{token} // echoed, as Mastodon does
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, opts)
	if err != nil {
		return // Accept has answered
	}
	defer conn.CloseNow()
	c := s.newStreamClient(a)
	subscribe := func(stream, tag string, on bool) error {
		name, err := streamName(stream, tag)
		if err != nil {
			return err
		}
		if (strings.HasPrefix(name, "user") || strings.HasPrefix(name, "list:")) && a == nil {
			return errors.New("missing access token")
		}
		if on {
			if err := s.checkListStream(r.Context(), a, name); err != nil { // lists.go
				return errors.New("no such list")
			}
		}
		c.mu.Lock()
		if on {
			c.streams[name] = true
		} else {
			delete(c.streams, name)
		}
		c.mu.Unlock()
		return nil
	}
	if q := r.URL.Query().Get("stream"); q != "" {
		if err := subscribe(q, streamArg(q, r.URL.Query().Get("tag"), r.URL.Query().Get("list")), true); err != nil {
			conn.Close(websocket.StatusPolicyViolation, err.Error())
			return
		}
	}
	s.Streaming.add(c)
	defer s.Streaming.remove(c)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The reader ends when ctx does (Read returns then); the handler
	// waits for it, so nothing of the connection outlives its request.
	readDone := make(chan struct{})
	defer func() { cancel(); <-readDone }()
	go func() {
		defer close(readDone)
		defer cancel()
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var req wsRequest
			if json.Unmarshal(data, &req) != nil {
				continue
			}
			var serr error
			switch req.Type {
			case "subscribe":
				serr = subscribe(req.Stream, streamArg(req.Stream, req.Tag, req.List), true)
			case "unsubscribe":
				serr = subscribe(req.Stream, streamArg(req.Stream, req.Tag, req.List), false)
			}
			if serr != nil {
				msg, _ := json.Marshal(map[string]string{"error": serr.Error(), "status": "400"})
				c.send(streamEvent{Event: "error", Payload: string(msg)})
			}
		}
	}()
	tick := time.NewTicker(s.Streaming.heartbeat())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			return
		case <-c.gone:
			conn.Close(websocket.StatusPolicyViolation, "too slow")
			return
		case <-tick.C:
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		case ev := <-c.out:
			b, _ := json.Marshal(ev)
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Write(wctx, websocket.MessageText, b)
			wcancel()
			if err != nil {
				return
			}
		}
	}
}

func (s *Server) streamingHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("OK"))
}
