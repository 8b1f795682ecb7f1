package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `starling demo` as a person would, for a moment: three
// embedded servers, and the post delivered to both others and in every
// home feed.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"demo", "--duration", "500ms", "--data-dir", t.TempDir()}, func(string) string { return "" }, &stdout, &stderr)
	t.Logf("demo:\n%s", stdout.String())
	if code != 0 {
		t.Fatalf("demo exited %d: %s", code, stderr.String())
	}
	for _, want := range []string{"delivered to server 2's inbox", "delivered to server 3's inbox",
		"in alice's home feed on server 1", "in bob's home feed on server 2", "in carol's home feed on server 3", "token "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
