package inbox

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pressure says whether the queues are too full to take more work, and
// why; queue.Monitor is one.
type Pressure interface {
	Pressure() (overloaded bool, reason string)
}

// HostLimits limits how many activities each sending server may deliver
// here per second (a token bucket per verified key-owner host), so that
// one server's flood is answered 429 with Retry-After while everyone
// else's gets through. Counts are per process. The zero value admits
// everything.
type HostLimits struct {
	PerSecond float64 // sustained rate per host; 0: no limit
	Burst     int     // what a host may send at once (default 10 × PerSecond)

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// allow reports whether host may deliver one more activity now, and if
// not, how long it should wait.
func (l *HostLimits) allow(host string, now time.Time) (bool, time.Duration) {
	if l == nil || l.PerSecond <= 0 {
		return true, 0
	}
	l.mu.Lock()
	if l.limiters == nil || len(l.limiters) > 100_000 {
		l.limiters = map[string]*rate.Limiter{}
	}
	lim := l.limiters[host]
	if lim == nil {
		burst := l.Burst
		if burst <= 0 {
			burst = max(int(10*l.PerSecond), 1)
		}
		lim = rate.NewLimiter(rate.Limit(l.PerSecond), burst)
		l.limiters[host] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
