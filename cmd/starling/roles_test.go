package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestParseRoles(t *testing.T) {
	for _, tt := range []struct {
		in, want, err string
	}{
		{"", "api,inbox,fanout,timeline", ""},
		{"api,inbox,fanout,timeline", "api,inbox,fanout,timeline", ""},
		{"fanout", "fanout", ""},
		{" Timeline , api", "api,timeline", ""},
		{"api,api", "api", ""},
		{"api,delivery", "", `unknown role "delivery"`},
		{"api,", "", `unknown role ""`},
	} {
		t.Run(tt.in, func(t *testing.T) {
			r, err := parseRoles(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseRoles(%q) = %v, %v; want an error with %s", tt.in, r, err, tt.err)
				}
				return
			}
			if err != nil || r.String() != tt.want {
				t.Fatalf("parseRoles(%q) = %q, %v; want %q", tt.in, r.String(), err, tt.want)
			}
		})
	}
}

// TestServeFlagsRefused: a role serve does not know, or replicas JetStream
// cannot keep, is a usage error (exit 2) naming the flag and the value,
// before anything is opened.
func TestServeFlagsRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown role", []string{"serve", "--roles", "api,delivery"}, `--roles: unknown role "delivery"`},
		{"no replicas", []string{"serve", "--stream-replicas", "0"}, "--stream-replicas 0"},
		{"too many replicas", []string{"serve", "--stream-replicas", "7"}, "--stream-replicas 7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(tt.args, "--data-dir", t.TempDir())
			code := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, want 2 naming %s: %s", code, tt.want, stderr.String())
			}
		})
	}
}

// TestProbesWithoutAPI: a process without the api role serves no API but
// still answers its probes and is scraped on --listen; with the api role
// /readyz is /healthz.
func TestProbesWithoutAPI(t *testing.T) {
	worker := startInstance(t, "worker", func(c *Config) { c.Roles = "fanout,timeline" })
	full := startInstance(t, "full")
	for _, tt := range []struct {
		in   *instance
		path string
		want int
	}{
		{worker, "/livez", http.StatusOK},
		{worker, "/healthz", http.StatusOK},
		{worker, "/readyz", http.StatusOK},
		{worker, "/metrics", http.StatusOK},
		{worker, "/api/v1/instance", http.StatusNotFound},
		{worker, "/.well-known/webfinger?resource=acct:alice@" + worker.cfg.Domain, http.StatusNotFound},
		{full, "/readyz", http.StatusOK},
		{full, "/api/v1/instance", http.StatusOK},
	} {
		t.Run(tt.in.name+tt.path, func(t *testing.T) {
			resp, err := tt.in.client.Get(tt.in.base + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s on %s: %d, want %d", tt.path, tt.in.name, resp.StatusCode, tt.want)
			}
		})
	}
}
