package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheck asks a running server's readiness (or any) URL and exits 0
// on a 2xx answer, 1 otherwise, 2 on a bad command line: the image has no
// shell or curl, so its health checks run the binary itself.
func healthcheck(ctx context.Context, args []string, stderr io.Writer) int {
	url := "http://127.0.0.1:8080/healthz"
	switch len(args) {
	case 0:
	case 1:
		url = args[0]
	default:
		fmt.Fprintln(stderr, "usage: starling healthcheck [URL]")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "starling healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "starling healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		fmt.Fprintf(stderr, "starling healthcheck: %s: %s %s\n", url, resp.Status, body)
		return 1
	}
	return 0
}
