package fanout

import (
	"fmt"
	"strings"
	"time"
)

// Policy is how hard delivery tries.
type Policy struct {
	// Schedule is the delay before each retry: len(Schedule)+1 attempts in
	// all. The default is 16 attempts over about 2.8 days, the span of
	// Mastodon's 16 retries, front-loaded so short outages heal fast.
	Schedule []time.Duration
	// PerHost caps the deliveries in flight to one host (default 4).
	PerHost int
	// BreakerFailures consecutive failures open a host's breaker (default 5);
	// its deliveries then wait BreakerTimeout (default 1m) without spending
	// workers, and one probe decides whether it closes.
	BreakerFailures uint32
	BreakerTimeout  time.Duration
	// UnavailableAfterDays distinct days of failure with no success mark a
	// host unavailable: new fanouts skip it until it succeeds again (default 7).
	UnavailableAfterDays int
}

// DefaultSchedule returns the default retry schedule.
func DefaultSchedule() []time.Duration {
	return []time.Duration{
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		20 * time.Minute, 40 * time.Minute, 80 * time.Minute, 160 * time.Minute, 5 * time.Hour,
		8 * time.Hour, 12 * time.Hour, 12 * time.Hour, 12 * time.Hour, 12 * time.Hour,
	}
}

// ParseSchedule reads a comma-separated list of durations ("30s,1m,5m").
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %q is not a positive duration", s, part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("retry schedule %q: no durations", s)
	}
	return out, nil
}

func (p *Policy) fill() {
	if len(p.Schedule) == 0 {
		p.Schedule = DefaultSchedule()
	}
	if p.PerHost <= 0 {
		p.PerHost = 4
	}
	if p.BreakerFailures == 0 {
		p.BreakerFailures = 5
	}
	if p.BreakerTimeout <= 0 {
		p.BreakerTimeout = time.Minute
	}
	if p.UnavailableAfterDays <= 0 {
		p.UnavailableAfterDays = 7
	}
}
