package inbox_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/signature"
)

// TestUnverifiableWhileDown: a signature whose key cannot be looked up is
// the sender's fault (401) only while this server is ready; while the
// store or NATS is unreachable it is answered 503 with Retry-After, which
// every sender retries, and nothing is stored.
func TestUnverifiableWhileDown(t *testing.T) {
	rig := newSamplesRig(t)
	actor := "https://remote.example/users/r"
	rig.handler.Keys = func(context.Context, string, bool) (crypto.PublicKey, string, error) {
		return nil, "", errors.New("store: connection refused")
	}
	for _, tc := range []struct {
		name       string
		ready      error
		want       int
		retryAfter bool
	}{
		{"ready", nil, http.StatusUnauthorized, false},
		{"store down", errors.New("store: ping: connection refused"), http.StatusServiceUnavailable, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig.handler.Ready = func(context.Context) error { return tc.ready }
			body := create(t, actor, note(actor, actor+"/statuses/"+tc.name, nil))
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rig.srv.URL+"/inbox", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", activitypub.ContentType)
			if err := signature.SignRequest(req, actor+"#main-key", rig.key, body, time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want || (resp.Header.Get("Retry-After") != "") != tc.retryAfter {
				t.Errorf("answered %d, Retry-After %q; want %d, Retry-After set %v", resp.StatusCode, resp.Header.Get("Retry-After"), tc.want, tc.retryAfter)
			}
		})
	}
	var n int
	if err := rig.db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM inbox_activities`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d activities stored, %v; want none", n, err)
	}
}
