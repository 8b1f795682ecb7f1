package inbox

import (
	"testing"
	"time"
)

// TestHostLimiter: per host, n fetches a minute and at most maxInFlight at
// once; other hosts are not affected.
func TestHostLimiter(t *testing.T) {
	var l hostLimiter
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var releases []func()
	for i := range maxInFlight {
		r, ok := l.acquire("slow.example", 10, now)
		if !ok {
			t.Fatalf("fetch %d refused", i)
		}
		releases = append(releases, r)
	}
	if _, ok := l.acquire("slow.example", 10, now); ok {
		t.Fatal("a third fetch in flight on one host allowed")
	}
	if r, ok := l.acquire("other.example", 10, now); !ok {
		t.Fatal("another host refused")
	} else {
		r()
	}
	for _, r := range releases {
		r()
	}
	for i := maxInFlight; i < 10; i++ {
		r, ok := l.acquire("slow.example", 10, now)
		if !ok {
			t.Fatalf("fetch %d of 10 refused", i)
		}
		r()
	}
	if _, ok := l.acquire("slow.example", 10, now.Add(59*time.Second)); ok {
		t.Fatal("an eleventh fetch in the minute allowed")
	}
	if r, ok := l.acquire("slow.example", 10, now.Add(time.Minute)); !ok {
		t.Fatal("refused in the next minute")
	} else {
		r()
	}
}
