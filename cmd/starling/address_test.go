package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/starling-social/starling/store/postgres/pgtest"
)

// TestAddressIsKept: the scheme and domain a database is first used with
// are kept (as its instance actor's address), and every subcommand run
// with another one refuses, naming the right settings, instead of
// minting accounts whose addresses nobody can reach.
func TestAddressIsKept(t *testing.T) {
	dsn := pgtest.NewDatabaseURL(t)
	starling := func(env map[string]string, args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		env["STARLING_DATABASE_URL"] = dsn
		env["STARLING_LOG_LEVEL"] = "warn"
		code := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	first := map[string]string{"STARLING_DOMAIN": "social.example", "STARLING_PROTOCOL": "https"}
	if code, out := starling(first, "admin", "account", "create", "--username", "alice", "--email", "a@example.com", "--password", "a long password"); code != 0 {
		t.Fatalf("create alice: %d %s", code, out)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{"same address", map[string]string{"STARLING_DOMAIN": "social.example", "STARLING_PROTOCOL": "https"},
			[]string{"admin", "token", "create", "--username", "alice"}, 0},
		{"other domain", map[string]string{"STARLING_DOMAIN": "other.example", "STARLING_PROTOCOL": "https"},
			[]string{"admin", "account", "create", "--username", "bob", "--email", "b@example.com", "--password", "a long password"}, 2},
		{"other scheme", map[string]string{"STARLING_DOMAIN": "social.example", "STARLING_PROTOCOL": "http"},
			[]string{"admin", "token", "create", "--username", "alice"}, 2},
		{"migrate elsewhere", map[string]string{"STARLING_DOMAIN": "localhost:8080"}, []string{"migrate"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := starling(tt.env, tt.args...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d: %s", code, tt.want, out)
			}
			if tt.want == 2 && !strings.Contains(out, "--protocol https --domain social.example") {
				t.Errorf("the refusal does not name the settings to use: %s", out)
			}
		})
	}
	// bob was not created under the other address.
	if code, out := starling(first, "admin", "token", "create", "--username", "bob"); code == 0 {
		t.Errorf("bob exists after a refused create: %s", out)
	}
}

func TestDefaultProtocol(t *testing.T) {
	for domain, want := range map[string]string{
		"localhost:8080": "http", "localhost": "http", "127.0.0.1:8080": "http", "[::1]:8080": "http",
		"dev.localhost:3000": "http", "social.example": "https", "social.example:8443": "https", "10.0.0.5:8080": "https",
	} {
		if got := defaultProtocol(domain); got != want {
			t.Errorf("defaultProtocol(%q) = %q, want %q", domain, got, want)
		}
	}
}
