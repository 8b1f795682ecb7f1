package inbox_test

import (
	"context"
	"net/http"
	"testing"
)

type suspendedHosts map[string]bool

func (s suspendedHosts) Suspended(_ context.Context, host string) bool { return s[host] }

// TestSuspendedDomainRefused: an admin-suspended domain's deliveries are
// answered 403 and nothing is stored; other domains go through.
func TestSuspendedDomainRefused(t *testing.T) {
	rig := newSamplesRig(t)
	rig.handler.Gate = suspendedHosts{"suspended.example": true}
	for _, tc := range []struct {
		actor string
		want  int
	}{
		{"https://suspended.example/users/s", http.StatusForbidden},
		{"https://fine.example/users/f", http.StatusAccepted},
	} {
		rig.seedRemote(t, tc.actor)
		id := tc.actor + "/statuses/1"
		body := create(t, tc.actor, note(tc.actor, id, nil))
		if status, msg := rig.deliver(t, tc.actor, body); status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.actor, status, msg, tc.want)
		}
	}
	var n int
	if err := rig.db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM inbox_activities`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d activities stored, %v; want only the one not suspended", n, err)
	}
}
