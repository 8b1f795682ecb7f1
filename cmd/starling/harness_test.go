package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/signature"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

// TestMain lets a test run this binary as the real starling command in a
// child process (for SIGKILL tests): the child sees STARLING_TEST_RUN_MAIN;
// or as a nats-server (natsNodeEnv).
func TestMain(m *testing.M) {
	if os.Getenv("STARLING_TEST_RUN_MAIN") == "1" {
		main()
	}
	if spec := os.Getenv(natsNodeEnv); spec != "" {
		runNATSNode(spec)
	}
	os.Exit(m.Run())
}

// logWriter sends logs to the test's output until the test ends; goroutines
// that log during shutdown must not write to a finished test.
type logWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB, name string) *slog.Logger {
	w := &logWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	level := slog.LevelWarn
	if os.Getenv("STARLING_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("instance", name)
}

// inboxRecorder counts the POSTs an instance's inboxes receive, by the
// activity id in the body, and can make them answer 503 for a while.
type inboxRecorder struct {
	mu      sync.Mutex
	posts   map[string]int           // activity id → accepted POSTs
	refused map[string]int           // activity id → POSTs answered 503 while blocked
	signed  map[string][]string      // activity id → how each POST was signed (signedWith)
	answers map[string][]inboxAnswer // activity id → each answer, in order
	blocked bool
}

// inboxAnswer is how an inbox answered one POST.
type inboxAnswer struct {
	Status     int
	RetryAfter string
}

// statusWriter keeps the answer of a handler.
type statusWriter struct {
	http.ResponseWriter
	answer inboxAnswer
}

func (w *statusWriter) WriteHeader(code int) {
	if w.answer.Status == 0 {
		w.answer = inboxAnswer{Status: code, RetryAfter: w.Header().Get("Retry-After")}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.answer.Status == 0 {
		w.answer.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// signedWith names how a request is signed: "draft-cavage", or "rfc9421"
// and the alg of its Signature-Input ("rfc9421 ed25519").
func signedWith(r *http.Request) string {
	in := r.Header.Get("Signature-Input")
	if in == "" {
		return "draft-cavage"
	}
	if _, alg, ok := strings.Cut(in, `alg="`); ok {
		alg, _, _ = strings.Cut(alg, `"`)
		return "rfc9421 " + alg
	}
	return "rfc9421"
}

func (rec *inboxRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !(r.URL.Path == "/inbox" || strings.HasSuffix(r.URL.Path, "/inbox")) {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var act struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(body, &act)
		rec.mu.Lock()
		blocked := rec.blocked
		if blocked {
			rec.refused[act.ID]++
		} else {
			rec.posts[act.ID]++
		}
		if rec.signed != nil {
			rec.signed[act.ID] = append(rec.signed[act.ID], signedWith(r))
		}
		rec.mu.Unlock()
		if blocked {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"down for the test"}`, http.StatusServiceUnavailable)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		rec.mu.Lock()
		if rec.answers == nil {
			rec.answers = map[string][]inboxAnswer{}
		}
		rec.answers[act.ID] = append(rec.answers[act.ID], sw.answer)
		rec.mu.Unlock()
	})
}

// answered returns the statuses the instance answered POSTs of activity
// id with, in order (POSTs refused while blocked are not among them).
func (rec *inboxRecorder) answered(id string) []inboxAnswer {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.answers[id])
}

func (rec *inboxRecorder) count(id string) (posts, refused int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.posts[id], rec.refused[id]
}

// signatures returns how each POST of activity id was signed, in order.
func (rec *inboxRecorder) signatures(id string) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.signed[id])
}

// allSignatures returns how every POST was signed, in no particular order
// across activities.
func (rec *inboxRecorder) allSignatures() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, s := range rec.signed {
		out = append(out, s...)
	}
	return out
}

func (rec *inboxRecorder) block(b bool) {
	rec.mu.Lock()
	rec.blocked = b
	rec.mu.Unlock()
}

// instance is one Starling running in this test process, with its own
// database and its own embedded NATS.
type instance struct {
	t      testing.TB
	name   string
	cfg    Config
	srv    *Server
	base   string
	inbox  *inboxRecorder
	client *http.Client
}

// newConfig returns the configuration of a local-federation instance on
// addr, on a fresh PostgreSQL database.
func newConfig(t testing.TB, addr string) Config {
	cfg := embeddedConfig(t, addr)
	cfg.DatabaseURL = pgtest.NewDatabaseURL(t)
	return cfg
}

// embeddedConfig is newConfig on the embedded store (no --database-url)
// and embedded NATS, in a fresh data directory: nothing else is needed.
func embeddedConfig(t testing.TB, addr string) Config {
	return Config{
		Listen:                 addr,
		Domain:                 addr,
		Protocol:               "http",
		NATSPrefix:             "starling",
		DataDir:                t.TempDir(),
		AllowPrivateAddresses:  true,
		LogLevel:               "warn",
		LogFormat:              "text",
		AckWait:                2 * time.Second,
		DeliveryWorkers:        8,
		DeliveryPerHost:        4,
		DeliveryRetrySchedule:  "200ms,400ms,800ms",
		DeliveryBreakerFails:   5,
		DeliveryBreakerTimeout: time.Second,
		UnavailableAfterDays:   7,
	}
}

// startInstance starts an instance on PostgreSQL, or on the embedded store
// with STARLING_TEST_STORE=embedded (the whole suite runs on either);
// opts adjust its configuration first.
func startInstance(t testing.TB, name string, opts ...func(*Config)) *instance {
	t.Helper()
	if os.Getenv("STARLING_TEST_STORE") == "embedded" {
		return startWith(t, name, embeddedConfig, nil, opts...)
	}
	return startWith(t, name, newConfig, nil, opts...)
}

// startLogged is startInstance with logger instead of the test log.
func startLogged(t testing.TB, name string, logger *slog.Logger, opts ...func(*Config)) *instance {
	t.Helper()
	if os.Getenv("STARLING_TEST_STORE") == "embedded" {
		return startWith(t, name, embeddedConfig, logger, opts...)
	}
	return startWith(t, name, newConfig, logger, opts...)
}

// skipUnlessPostgres skips a test that reaches PostgreSQL directly (its
// pool, or a connection of its own) when in runs on the embedded store.
func skipUnlessPostgres(t testing.TB, in *instance) {
	t.Helper()
	if in.srv.DB == nil {
		t.Skip("reaches PostgreSQL directly; the instance runs on the embedded store")
	}
}

// startEmbedded starts an instance on the embedded store.
func startEmbedded(t testing.TB, name string, opts ...func(*Config)) *instance {
	t.Helper()
	return startWith(t, name, embeddedConfig, nil, opts...)
}

func startWith(t testing.TB, name string, config func(testing.TB, string) Config, logger *slog.Logger, opts ...func(*Config)) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(t, ln.Addr().String())
	for _, o := range opts {
		o(&cfg)
	}
	in := &instance{t: t, name: name, cfg: cfg,
		inbox:  &inboxRecorder{posts: map[string]int{}, refused: map[string]int{}, signed: map[string][]string{}},
		client: &http.Client{Timeout: 10 * time.Second}}
	in.base = "http://" + in.cfg.Domain
	if logger == nil {
		logger = testLogger(t, name)
	}
	in.srv = &Server{Config: &in.cfg, Logger: logger, Listener: ln, WrapHandler: in.inbox.wrap}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := in.srv.Start(ctx); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := in.srv.Close(ctx); err != nil {
			t.Logf("close %s: %v", name, err)
		}
	})
	return in
}

// user creates a local account and returns its API token.
func (in *instance) user(username string) string {
	in.t.Helper()
	ctx := context.Background()
	adm := adminOf(in)
	if _, err := adm.CreateAccount(ctx, username, username+"@example.test", "correct horse battery"); err != nil {
		in.t.Fatalf("%s: create %s: %v", in.name, username, err)
	}
	token, err := adm.CreateToken(ctx, username, "read write follow push")
	if err != nil {
		in.t.Fatalf("%s: token for %s: %v", in.name, username, err)
	}
	return token
}

// call makes an API request and decodes a JSON answer into out (if not nil).
func call(t testing.TB, client *http.Client, method, rawURL, token string, form url.Values, out any) int {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, rawURL, data, err)
		}
	}
	return resp.StatusCode
}

func (in *instance) call(method, path, token string, form url.Values, out any) int {
	in.t.Helper()
	return call(in.t, in.client, method, in.base+path, token, form, out)
}

// mustCall fails the test unless the answer is 200.
func (in *instance) mustCall(method, path, token string, form url.Values, out any) {
	in.t.Helper()
	if code := in.call(method, path, token, form, out); code != http.StatusOK {
		in.t.Fatalf("%s: %s %s: status %d", in.name, method, path, code)
	}
}

// resolve finds acct (user@host) through this instance's search, resolving it remotely.
func (in *instance) resolve(token, acct string) string {
	in.t.Helper()
	var res struct {
		Accounts []api.Account `json:"accounts"`
	}
	in.mustCall("GET", "/api/v2/search?type=accounts&resolve=true&q="+url.QueryEscape(acct), token, nil, &res)
	if len(res.Accounts) != 1 {
		in.t.Fatalf("%s: search %s found %d accounts", in.name, acct, len(res.Accounts))
	}
	return res.Accounts[0].ID
}

// follow makes the token's account follow accountID and waits for the Accept.
func (in *instance) follow(token, accountID string) {
	in.t.Helper()
	in.mustCall("POST", "/api/v1/accounts/"+accountID+"/follow", token, url.Values{}, nil)
	waitFor(in.t, 10*time.Second, "follow of "+accountID+" accepted on "+in.name, func() bool {
		var rels []api.Relationship
		in.mustCall("GET", "/api/v1/accounts/relationships?id[]="+accountID, token, nil, &rels)
		return len(rels) == 1 && rels[0].Following && !rels[0].Requested
	})
}

// home returns how often the status uri stands in the token's home timeline.
// metric returns the value of one sample of the instance's /metrics
// (name with its labels, as printed), or 0 when absent.
func (in *instance) metric(sample string) int {
	in.t.Helper()
	resp, err := http.Get(in.base + "/metrics")
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				in.t.Fatalf("metric %s: %v", sample, err)
			}
			return int(f)
		}
	}
	return 0
}

// homeCounts pages through the whole home feed (40 at a time, as
// clients do) and counts each status URI in it.
func (in *instance) homeCounts(token string) map[string]int {
	in.t.Helper()
	counts := map[string]int{}
	maxID := ""
	for range 100 {
		var page []api.Status
		path := "/api/v1/timelines/home?limit=40"
		if maxID != "" {
			path += "&max_id=" + maxID
		}
		in.mustCall("GET", path, token, nil, &page)
		if len(page) == 0 {
			break
		}
		for _, st := range page {
			counts[st.URI]++
		}
		maxID = page[len(page)-1].ID
	}
	return counts
}

func (in *instance) home(token, uri string) int {
	in.t.Helper()
	var page []api.Status
	in.mustCall("GET", "/api/v1/timelines/home?limit=40", token, nil, &page)
	n := 0
	for _, st := range page {
		if st.URI == uri {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// signingKey returns the private key of the local account id, read as the
// deliverer reads it.
func signingKey(t *testing.T, db Store, id int64) crypto.PrivateKey {
	t.Helper()
	_, pem, err := db.SigningKey(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return must(signature.ParsePrivateKey(pem))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("must: %v", err))
	}
	return v
}

func sha256Base64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func adminOf(in *instance) *api.Admin { return &api.Admin{Store: in.srv.Store, Site: site(&in.cfg)} }
