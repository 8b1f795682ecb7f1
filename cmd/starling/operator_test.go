package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/api"
)

// cliEnv is the environment of a starling command run against in's
// store: its database URL, or, on the embedded store, its data directory
// (where the store's file is when the URL is empty).
func cliEnv(in *instance) map[string]string {
	return map[string]string{"STARLING_DATABASE_URL": in.cfg.DatabaseURL, "STARLING_DATA_DIR": in.cfg.DataDir,
		"STARLING_DOMAIN": in.cfg.Domain, "STARLING_PROTOCOL": in.cfg.Protocol, "STARLING_LOG_LEVEL": "warn"}
}

// cliRun runs the starling command against in's database.
func cliRun(in *instance, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	env := cliEnv(in)
	env["USER"] = "tester"
	code := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

type hostRow struct {
	starling.HostBacklog
	OldestAgeSeconds float64 `json:"oldest_pending_age_seconds"`
}

// TestOperatorView: a failing host shows in the API and the CLI with its
// error and next attempt; the per-post trace lists every destination;
// pause stops attempts within a second and resume restarts them; purge
// empties a host into dead letters and replay delivers them; a suspended
// host receives nothing; every action is audited.
func TestOperatorView(t *testing.T) {
	r := newDeliveryRig(t, 3, func(c *Config) {
		c.DeliveryRetrySchedule = "3s,3s,3s,3s,3s,3s"
		c.DeliveryBreakerFails = 20
	})
	ctx := context.Background()
	ok, failing, paused := r.fleet.Hosts[0], r.fleet.Hosts[1], r.fleet.Hosts[2]
	failing.Set(Behaviour{Status: http.StatusServiceUnavailable})
	r.follow(r.fleet.Hosts, 1)
	if code, out, errOut := cliRun(r.in, "admin", "account", "role", "--username", "alice"); code != 0 || !strings.Contains(out, "admin true") {
		t.Fatalf("role: %d %s %s", code, out, errOut)
	}
	adminToken := must(adminOf(r.in).CreateToken(ctx, "alice", "admin:read admin:write"))
	// bob's token carries the scopes, but bob is no admin.
	r.in.user("bob")
	notAdmin := must(adminOf(r.in).CreateToken(ctx, "bob", "admin:read admin:write"))
	readOnly := must(adminOf(r.in).CreateToken(ctx, "alice", "admin:read"))

	postStatus := func(text string) (string, string) {
		var st api.Status
		r.in.mustCall("POST", "/api/v1/statuses", r.alice, url.Values{"status": {text}}, &st)
		return st.ID, st.URI + "/activity"
	}
	id1, create1 := postStatus("first")
	waitFor(t, 10*time.Second, "the healthy hosts to receive the post", func() bool {
		return len(ok.Received(create1)) == 1 && len(paused.Received(create1)) == 1
	})

	// The failing host, in the API: its error, status and next attempt.
	var row hostRow
	waitFor(t, 10*time.Second, "the failing host in the backlog", func() bool {
		row = hostRow{}
		r.in.mustCall("GET", "/api/v1/admin/backlog/"+failing.Addr, adminToken, nil, &row)
		return row.Pending == 1 && row.Attempts >= 1
	})
	if row.LastStatus != 503 || row.LastError != "status 503" || row.NextAttempt.IsZero() || row.OldestPending.IsZero() {
		t.Errorf("failing host %+v", row)
	}
	var queue []starling.DeliveryTrace
	r.in.mustCall("GET", "/api/v1/admin/hosts/"+failing.Addr+"/queue", adminToken, nil, &queue)
	if len(queue) != 1 || queue[0].ActivityType != "Create" || queue[0].LastError != "status 503" || queue[0].NextAttempt.IsZero() {
		t.Errorf("queue of the failing host %+v", queue)
	}
	var table []hostRow
	r.in.mustCall("GET", "/api/v1/admin/backlog?filter=failing", adminToken, nil, &table)
	if len(table) != 1 || table[0].Host != failing.Addr {
		t.Errorf("failing hosts %+v", table)
	}
	r.in.mustCall("GET", "/api/v1/admin/backlog", adminToken, nil, &table)
	if len(table) != 3 || table[0].Host != failing.Addr {
		t.Errorf("host table %+v", table)
	}
	for _, h := range table[1:] {
		if h.Delivered1h != 1 || h.Pending != 0 {
			t.Errorf("healthy host %+v", h)
		}
	}

	// And in the CLI.
	code, out, errOut := cliRun(r.in, "admin", "backlog", "--host", failing.Addr, "--json")
	var cliRows []starling.HostBacklog
	if code != 0 || json.Unmarshal([]byte(out), &cliRows) != nil || len(cliRows) != 1 || cliRows[0].LastStatus != 503 ||
		cliRows[0].NextAttempt.IsZero() {
		t.Errorf("backlog --json: %d %s %s", code, out, errOut)
	}
	code, out, _ = cliRun(r.in, "admin", "backlog", "--host", failing.Addr)
	if code != 0 || !strings.Contains(out, "pending deliveries to") || !strings.Contains(out, "Create") {
		t.Errorf("backlog --host: %d\n%s", code, out)
	}
	code, out, _ = cliRun(r.in, "admin", "backlog")
	if code != 0 || !strings.Contains(out, failing.Addr) || !strings.Contains(out, "503") || !strings.Contains(out, "failing") {
		t.Errorf("backlog table: %d\n%s", code, out)
	}

	// The trace of the post: every destination with its state.
	var trace []starling.DeliveryTrace
	r.in.mustCall("GET", "/api/v1/admin/trace/"+id1, adminToken, nil, &trace)
	states := map[string]starling.DeliveryTrace{}
	for _, d := range trace {
		states[d.Host] = d
	}
	if len(trace) != 3 || states[ok.Addr].State != "delivered" || states[ok.Addr].DeliveredAt.IsZero() ||
		states[paused.Addr].State != "delivered" || states[failing.Addr].State != "pending" ||
		states[failing.Addr].LastError != "status 503" || states[failing.Addr].Attempts < 1 {
		t.Errorf("trace %+v", trace)
	}
	code, out, _ = cliRun(r.in, "admin", "trace", id1)
	if code != 0 || strings.Count(out, "delivered") != 2 || !strings.Contains(out, "pending") {
		t.Errorf("trace table: %d\n%s", code, out)
	}

	// Pause: within a second no attempt reaches the host; resume delivers.
	r.in.mustCall("POST", "/api/v1/admin/hosts/"+paused.Addr+"/pause", adminToken, nil, nil)
	time.Sleep(time.Second)
	_, create2 := postStatus("second")
	waitFor(t, 10*time.Second, "the second post at the healthy host", func() bool { return len(ok.Received(create2)) == 1 })
	time.Sleep(time.Second)
	if n := len(paused.Received(create2)); n != 0 {
		t.Fatalf("a paused host received %d deliveries", n)
	}
	r.in.mustCall("GET", "/api/v1/admin/backlog/"+paused.Addr, adminToken, nil, &row)
	if !row.Paused || row.Pending != 1 {
		t.Errorf("paused host %+v", row)
	}
	if code, out, errOut := cliRun(r.in, "admin", "host", "resume", paused.Addr); code != 0 || !strings.Contains(out, "1 parked") {
		t.Errorf("resume: %d %s %s", code, out, errOut)
	}
	waitFor(t, 5*time.Second, "the resumed host to receive the post", func() bool { return len(paused.Received(create2)) == 1 })

	// Purge: the failing host's two pending deliveries become dead letters.
	code, out, errOut = cliRun(r.in, "admin", "host", "purge", failing.Addr)
	if code != 0 || !strings.Contains(out, "2 deliveries") {
		t.Fatalf("purge: %d %s %s", code, out, errOut)
	}
	r.in.mustCall("GET", "/api/v1/admin/backlog/"+failing.Addr, adminToken, nil, &row)
	if row.Pending != 0 {
		t.Errorf("after purge %+v", row)
	}
	var dead []map[string]any
	r.in.mustCall("GET", "/api/v1/admin/dead_letters?host="+failing.Addr, adminToken, nil, &dead)
	if len(dead) != 2 {
		t.Fatalf("dead letters after purge: %+v", dead)
	}
	time.Sleep(4 * time.Second) // past the next scheduled retry: nothing may come
	before, _ := failing.Counts()
	time.Sleep(time.Second)
	if after, _ := failing.Counts(); after != before {
		t.Errorf("a purged host got %d more requests", after-before)
	}
	// Replay by host delivers both once the host is back.
	failing.Set(Behaviour{})
	var replayed map[string]int
	r.in.mustCall("POST", "/api/v1/admin/dead_letters/replay", adminToken, url.Values{"host": {failing.Addr}}, &replayed)
	if replayed["replayed"] != 2 {
		t.Errorf("replayed %v", replayed)
	}
	waitFor(t, 10*time.Second, "the replayed deliveries", func() bool {
		return len(failing.Received(create1)) == 1 && len(failing.Received(create2)) == 1
	})
	waitFor(t, 5*time.Second, "the trace to show it delivered", func() bool {
		trace = nil
		r.in.mustCall("GET", "/api/v1/admin/trace/"+id1, adminToken, nil, &trace)
		for _, d := range trace {
			if d.State != "delivered" {
				return false
			}
		}
		return len(trace) == 3
	})

	// Suspend: nothing goes to the host.
	if code, _, errOut := cliRun(r.in, "admin", "host", "suspend", ok.Addr); code != 0 {
		t.Fatalf("suspend: %d %s", code, errOut)
	}
	time.Sleep(time.Second)
	_, create3 := postStatus("third")
	waitFor(t, 10*time.Second, "the third post elsewhere", func() bool { return len(paused.Received(create3)) == 1 })
	time.Sleep(time.Second)
	if n := len(ok.Received(create3)); n != 0 {
		t.Errorf("a suspended host received %d deliveries", n)
	}

	// The queue's backlog comes from consumer state.
	resp := must(http.Get(r.in.base + "/metrics"))
	metrics := string(must(io.ReadAll(resp.Body)))
	resp.Body.Close()
	if !strings.Contains(metrics, `starling_consumer_backlog{consumer="delivery",stream="STARLING_DELIVERY"}`) {
		t.Error("metrics lack the delivery consumer's backlog")
	}
	var rep struct {
		Streams []struct {
			Name, Consumer string
		} `json:"streams"`
	}
	r.in.mustCall("GET", "/api/v1/admin/deliveries", adminToken, nil, &rep)
	if len(rep.Streams) != 4 || rep.Streams[1].Consumer == "" {
		t.Errorf("report streams %+v", rep.Streams)
	}

	// The audit.
	var actions []starling.AdminAction
	r.in.mustCall("GET", "/api/v1/admin/actions", readOnly, nil, &actions)
	var got []string
	for _, a := range actions {
		got = append(got, a.Actor+" "+a.Action+" "+a.Target)
	}
	want := []string{"cli:tester host.suspend " + ok.Addr, "@alice deadletters.replay host " + failing.Addr,
		"cli:tester host.purge " + failing.Addr, "cli:tester host.resume " + paused.Addr, "@alice host.pause " + paused.Addr}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The failing host's attempt history.
	var attempts []starling.DeliveryAttempt
	r.in.mustCall("GET", "/api/v1/admin/hosts/"+failing.Addr+"/attempts", readOnly, nil, &attempts)
	if len(attempts) == 0 || attempts[0].Error == "" || attempts[0].At.IsZero() {
		t.Errorf("attempts of %s: %+v", failing.Addr, attempts)
	}

	// The chart's figures: the deliveries of the last hour, per minute.
	var history []starling.DeliveryRate
	r.in.mustCall("GET", "/api/v1/admin/history?hours=1", readOnly, nil, &history)
	var queued, delivered int64
	for _, h := range history {
		queued, delivered = queued+h.Queued, delivered+h.Delivered
	}
	if len(history) != 60 || queued == 0 || delivered == 0 || history[len(history)-1].At.After(time.Now()) {
		t.Errorf("history: %d steps, %d queued, %d delivered", len(history), queued, delivered)
	}

	t.Run("watch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		var stdout, stderr bytes.Buffer
		env := cliEnv(r.in)
		code := run(ctx, []string{"admin", "backlog", "--watch", "500ms"}, func(k string) string { return env[k] }, &stdout, &stderr)
		if n := strings.Count(stdout.String(), "HOST"); code != 0 || n < 2 || strings.Contains(stdout.String(), "\x1b[") {
			t.Errorf("--watch not on a terminal: %d, %d tables, %s", code, n, stderr.String())
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tt := range []struct {
			method, path, token string
			want                int
		}{
			{"GET", "/api/v1/admin/backlog/nowhere.test", adminToken, http.StatusNotFound},
			{"GET", "/api/v1/admin/backlog/bad%20host!", adminToken, http.StatusUnprocessableEntity},
			{"GET", "/api/v1/admin/backlog?filter=bogus", adminToken, http.StatusUnprocessableEntity},
			{"GET", "/api/v1/admin/backlog?limit=x", adminToken, http.StatusUnprocessableEntity},
			{"GET", "/api/v1/admin/trace/abc", adminToken, http.StatusUnprocessableEntity},
			{"GET", "/api/v1/admin/hosts/nowhere.test/queue", adminToken, http.StatusNotFound},
			{"GET", "/api/v1/admin/trace/" + strconv.Itoa(1<<40), adminToken, http.StatusNotFound},
			{"POST", "/api/v1/admin/hosts/nowhere.test/pause", adminToken, http.StatusNotFound},
			{"POST", "/api/v1/admin/hosts/" + ok.Addr + "/explode", adminToken, http.StatusNotFound},
			{"POST", "/api/v1/admin/hosts/" + ok.Addr + "/pause", readOnly, http.StatusForbidden},
			{"GET", "/api/v1/admin/backlog", r.alice, http.StatusForbidden},
			{"GET", "/api/v1/admin/backlog", notAdmin, http.StatusForbidden},
			{"POST", "/api/v1/admin/hosts/" + ok.Addr + "/pause", notAdmin, http.StatusForbidden},
			{"GET", "/api/v1/admin/backlog", "", http.StatusUnauthorized},
			{"POST", "/api/v1/admin/dead_letters/replay?status_id=x", adminToken, http.StatusUnprocessableEntity},
			{"GET", "/api/v1/admin/hosts/nowhere.test/attempts", adminToken, http.StatusNotFound},
			{"GET", "/api/v1/admin/hosts/" + ok.Addr + "/attempts?limit=5000", adminToken, http.StatusUnprocessableEntity},
			{"GET", "/api/v1/admin/history?hours=0", adminToken, http.StatusUnprocessableEntity},
			{"GET", "/api/v1/admin/history?hours=49", adminToken, http.StatusUnprocessableEntity},
			{"GET", "/api/v1/admin/history?hours=x", adminToken, http.StatusUnprocessableEntity},
			{"GET", "/api/v1/admin/history", notAdmin, http.StatusForbidden},
		} {
			req := must(http.NewRequest(tt.method, r.in.base+tt.path, nil))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp := must(http.DefaultClient.Do(req))
			var body map[string]any
			err := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || err != nil || body["error"] == nil || body["error"] == "" {
				t.Errorf("%s %s: %d %v %v, want %d and an error", tt.method, tt.path, resp.StatusCode, body, err, tt.want)
			}
		}
		for _, tt := range []struct {
			args []string
			want int
			says string
		}{
			{[]string{"admin", "trace"}, 2, "want one status id"},
			{[]string{"admin", "trace", "abc"}, 2, "not a status id"},
			{[]string{"admin", "trace", strconv.Itoa(1 << 40)}, 1, "no status"},
			{[]string{"admin", "host", "pause"}, 2, "want one host"},
			{[]string{"admin", "host", "explode", "x.test"}, 2, "unknown command"},
			{[]string{"admin", "host", "pause", "bad host!"}, 2, "not a host name"},
			{[]string{"admin", "host", "pause", "nowhere.test"}, 1, "no deliveries, failures or accounts known"},
			{[]string{"admin", "deadletters", "replay"}, 2, "name what to replay"},
			{[]string{"admin", "backlog", "--filter", "bogus"}, 2, "is not one of"},
			{[]string{"admin", "backlog", "--watch", "1ms"}, 2, "at most every 100ms"},
			{[]string{"admin", "account", "role", "--username", "nobody"}, 2, "no local account"},
		} {
			code, _, errOut := cliRun(r.in, tt.args...)
			if code != tt.want || !strings.Contains(errOut, tt.says) {
				t.Errorf("%v: %d %q, want %d saying %q", tt.args, code, errOut, tt.want, tt.says)
			}
		}
	})
}
