package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// demoInstance is one of the demo's servers.
type demoInstance struct {
	name  string
	srv   *Server
	base  string
	token string // of its one user
	user  string

	mu      sync.Mutex
	arrived map[string]string // activity id → signature standard, as its inbox received it
}

// demoRequest is what the demo's HTTP calls need.
func demoRequest(ctx context.Context, method, rawURL, token string, form url.Values, out any) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, rawURL, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// runDemo is `starling demo`: three federating servers in this process on
// loopback, each with its own embedded store and NATS under --data-dir.
// It makes an account on each, has the second and third follow the first,
// posts, and prints the post's path with timings: queued, received by each
// other server's inbox (and with which signature), in each home feed. Then
// it keeps running, printing the URLs and tokens, until Ctrl-C (or
// --duration).
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("starling demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "`directory` for the three servers' stores (default: a new temporary directory, removed at the end)")
	duration := fs.Duration("duration", 0, "stop after this long once the post has arrived (0: run until Ctrl-C)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dataDir == "" {
		dir, err := os.MkdirTemp("", "starling-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dataDir = dir
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var servers []*demoInstance
	defer func() {
		for _, in := range servers {
			cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := in.srv.Close(cctx); err != nil {
				fmt.Fprintf(stderr, "close %s: %v\n", in.name, err)
			}
			cancel()
		}
	}()
	for i, who := range []string{"alice", "bob", "carol"} {
		in, err := startDemoInstance(ctx, fmt.Sprintf("server %d", i+1), who, filepath.Join(*dataDir, who), logger)
		if err != nil {
			return err
		}
		servers = append(servers, in)
		fmt.Fprintf(stdout, "%s: %s (embedded store and NATS under %s)\n", in.name, in.base, filepath.Join(*dataDir, who))
	}
	alice := servers[0]
	for _, in := range servers[1:] {
		var found struct {
			Accounts []struct{ ID string } `json:"accounts"`
		}
		acct := alice.user + "@" + strings.TrimPrefix(alice.base, "http://")
		if err := demoRequest(ctx, "GET", in.base+"/api/v2/search?type=accounts&resolve=true&q="+url.QueryEscape(acct), in.token, nil, &found); err != nil {
			return err
		}
		if len(found.Accounts) != 1 {
			return fmt.Errorf("%s could not find %s", in.name, acct)
		}
		if err := demoRequest(ctx, "POST", in.base+"/api/v1/accounts/"+found.Accounts[0].ID+"/follow", in.token, url.Values{}, nil); err != nil {
			return err
		}
		if err := demoWait(ctx, 30*time.Second, func() bool {
			var rels []struct{ Following bool }
			return demoRequest(ctx, "GET", in.base+"/api/v1/accounts/relationships?id[]="+found.Accounts[0].ID, in.token, nil, &rels) == nil &&
				len(rels) == 1 && rels[0].Following
		}); err != nil {
			return fmt.Errorf("%s following %s: %w", in.user, acct, err)
		}
		fmt.Fprintf(stdout, "%s (%s) follows %s; %s accepted\n", in.user, in.name, acct, alice.name)
	}

	start := time.Now()
	var st struct{ ID, URI string }
	if err := demoRequest(ctx, "POST", alice.base+"/api/v1/statuses", alice.token,
		url.Values{"status": {"Hello from Starling's demo, #fediverse"}}, &st); err != nil {
		return err
	}
	since := func() string { return time.Since(start).Round(time.Millisecond).String() }
	fmt.Fprintf(stdout, "\nalice posts %s\n  %7s  stored with its Create activity and events, answered 200 (queued for fanout)\n", st.URI, since())
	activity := st.URI + "/activity"
	type step struct{ inbox, feed bool }
	done := make([]step, len(servers))
	if err := demoWait(ctx, 60*time.Second, func() bool {
		all := true
		for i, in := range servers {
			if i > 0 && !done[i].inbox {
				in.mu.Lock()
				standard, ok := in.arrived[activity]
				in.mu.Unlock()
				if ok {
					done[i].inbox = true
					fmt.Fprintf(stdout, "  %7s  signed (%s) and delivered to %s's inbox\n", since(), standard, in.name)
				}
			}
			if !done[i].feed {
				var home []struct{ URI string }
				if demoRequest(ctx, "GET", in.base+"/api/v1/timelines/home", in.token, nil, &home) == nil {
					for _, h := range home {
						if h.URI == st.URI {
							done[i].feed = true
							fmt.Fprintf(stdout, "  %7s  in %s's home feed on %s\n", since(), in.user, in.name)
						}
					}
				}
			}
			all = all && done[i].feed && (i == 0 || done[i].inbox)
		}
		return all
	}); err != nil {
		return fmt.Errorf("the post did not arrive everywhere: %w", err)
	}
	fmt.Fprintf(stdout, "\nThe three servers keep running. Point a client or curl at them:\n")
	for _, in := range servers {
		fmt.Fprintf(stdout, "  %s  %s  user %s (password %q)  token %s\n", in.name, in.base, in.user, "demo password", in.token)
	}
	fmt.Fprintf(stdout, "  e.g. curl -H 'Authorization: Bearer %s' %s/api/v1/timelines/home\n", servers[1].token, servers[1].base)
	if *duration > 0 {
		fmt.Fprintf(stdout, "Stopping in %s.\n", *duration)
		select {
		case <-ctx.Done():
		case <-time.After(*duration):
		}
	} else {
		fmt.Fprintf(stdout, "Ctrl-C stops them.\n")
		<-ctx.Done()
	}
	return nil
}

func startDemoInstance(ctx context.Context, name, user, dir string, logger *slog.Logger) (*demoInstance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var cfg Config
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	cfg.register(fs, func(string) string { return "" }) // defaults only: the demo is self-contained
	if err := fs.Parse(nil); err != nil {
		return nil, err
	}
	cfg.Listen, cfg.Domain, cfg.Protocol = ln.Addr().String(), ln.Addr().String(), "http"
	cfg.DatabaseURL, cfg.NATSURL, cfg.DataDir = "", "", dir
	cfg.AllowPrivateAddresses = true // the three talk over loopback
	if err := cfg.validate(); err != nil {
		ln.Close()
		return nil, err
	}
	in := &demoInstance{name: name, user: user, base: "http://" + cfg.Domain, arrived: map[string]string{}}
	in.srv = &Server{Config: &cfg, Logger: logger.With("server", name), Listener: ln, WrapHandler: in.watchInbox}
	if err := in.srv.Start(ctx); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	adm := admin(&cfg, in.srv.Store)
	if _, err := adm.CreateAccount(ctx, user, user+"@demo.invalid", "demo password"); err != nil {
		return nil, err
	}
	if in.token, err = adm.CreateToken(ctx, user, "read write follow push"); err != nil {
		return nil, err
	}
	return in, nil
}

// watchInbox notes each activity the server's inboxes accept, and the
// signature standard it came signed with.
func (in *demoInstance) watchInbox(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "inbox") {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		standard := "draft-cavage"
		if in := r.Header.Get("Signature-Input"); in != "" {
			standard = "RFC 9421"
			if strings.Contains(in, `alg="ed25519"`) {
				standard += ", Ed25519"
			}
		}
		var act struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(body, &act)
		next.ServeHTTP(w, r)
		in.mu.Lock()
		in.arrived[act.ID] = standard
		in.mu.Unlock()
	})
}

func demoWait(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
