package main

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestOperatorRetryNowAndClear: "clear" forgets a host's failures, and
// "retry" makes the next attempt immediate instead of waiting out the
// backoff (20 s here).
func TestOperatorRetryNowAndClear(t *testing.T) {
	r := newDeliveryRig(t, 1, func(c *Config) {
		c.DeliveryRetrySchedule = "20s,20s"
		c.DeliveryBreakerFails = 20
	})
	ctx := context.Background()
	h := r.fleet.Hosts[0]
	h.Set(Behaviour{Status: http.StatusBadGateway})
	r.follow(r.fleet.Hosts, 1)
	if err := adminOf(r.in).SetRole(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	token := must(adminOf(r.in).CreateToken(ctx, "alice", "admin:read admin:write"))
	create := r.post("try again")
	var row hostRow
	waitFor(t, 10*time.Second, "the first failure", func() bool {
		r.in.mustCall("GET", "/api/v1/admin/backlog/"+h.Addr, token, nil, &row)
		return row.Attempts == 1 && row.LastStatus == 502
	})
	if until := time.Until(row.NextAttempt); until < 10*time.Second {
		t.Errorf("next attempt in %s, want about 20s", until)
	}

	r.in.mustCall("POST", "/api/v1/admin/hosts/"+h.Addr+"/clear", token, nil, nil)
	if failing := must(r.in.srv.Store.FailingHosts(ctx)); len(failing) != 0 {
		t.Errorf("failing hosts after clear: %+v", failing)
	}

	h.Set(Behaviour{})
	var res struct {
		Affected int `json:"affected"`
	}
	start := time.Now()
	r.in.mustCall("POST", "/api/v1/admin/hosts/"+h.Addr+"/retry", token, nil, &res)
	if res.Affected != 1 {
		t.Errorf("retry brought %d retries forward, want 1", res.Affected)
	}
	waitFor(t, 5*time.Second, "the retried delivery", func() bool { return len(h.Received(create)) == 1 })
	t.Logf("delivered %s after retry", time.Since(start).Round(time.Millisecond))
}
