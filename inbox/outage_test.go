package inbox_test

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"testing"
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
			resp, _ := rig.send(t, actor, create(t, actor, note(actor, actor+"/statuses/"+tc.name, nil)))
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
