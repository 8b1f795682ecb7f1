package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/starling-social/starling/activitypub"
)

// TestInboxOverload floods an inbox with far more than it processes (one
// inbox worker, streams limited to 300 messages, 32 senders at once,
// bodies of 16 KB) and checks what the issue asks of overload: every
// answer is 202, or 503/429 with Retry-After, quickly; memory stays
// bounded (the heap grows by less than the flood's bytes: what is refused
// is refused before its body is kept); and every activity answered 202
// is processed, once.
func TestInboxOverload(t *testing.T) {
	a := startInstance(t, "A", func(c *Config) {
		c.InboxWorkers, c.QueueMaxMessages, c.InboxHostRate = 1, 300, 100_000
	})
	b := startInstance(t, "B")
	alice := a.user("alice")
	ctx := context.Background()
	const senders = 4
	type sender struct {
		uri, keyID string
		key        any
	}
	var from []sender
	for i := range senders {
		name := fmt.Sprintf("bob%d", i)
		b.user(name)
		a.follow(alice, a.resolve(alice, name+"@"+b.cfg.Domain))
		acct := must(b.srv.Store.AccountByAcct(ctx, name, ""))
		from = append(from, sender{acct.URI, acct.KeyID, signingKey(t, b.srv.Store, acct.ID)})
	}

	const total, concurrency = 4000, 32
	filler := strings.Repeat("flood ", 16<<10/6)
	var (
		next                                 atomic.Int64
		accepted                             sync.Map // activity URI → note URI
		nAccepted, nBusy, nLimited, nBadCode atomic.Int64
		slowest                              atomic.Int64
		wg                                   sync.WaitGroup
		peakHeap                             atomic.Uint64
	)
	// The heap before the flood: what the flood adds is measured against
	// what it sends.
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	go func() { // the heap's peak during the flood
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > total {
					return
				}
				s := from[n%senders]
				note := fmt.Sprintf("%s/statuses/%d", s.uri, 90000+n)
				body := must(json.Marshal(map[string]any{
					"@context": activitypub.ActivityStreamsNS, "id": note + "/activity", "type": "Create", "actor": s.uri,
					"to": []string{activitypub.Public}, "cc": []string{s.uri + "/followers"},
					"object": map[string]any{"id": note, "type": "Note", "attributedTo": s.uri, "content": "<p>" + filler + "</p>",
						"to": []string{activitypub.Public}, "cc": []string{s.uri + "/followers"}, "published": time.Now().UTC().Format(time.RFC3339)},
				}))
				began := time.Now()
				resp, err := client.Do(signedPost(t, a.base+"/inbox", s.keyID, s.key, body, time.Now()))
				if err != nil {
					t.Errorf("delivery %d: %v", n, err)
					return
				}
				resp.Body.Close()
				if d := time.Since(began); int64(d) > slowest.Load() {
					slowest.Store(int64(d))
				}
				switch resp.StatusCode {
				case http.StatusAccepted:
					nAccepted.Add(1)
					accepted.Store(note+"/activity", note)
				case http.StatusServiceUnavailable, http.StatusTooManyRequests:
					if resp.StatusCode == http.StatusServiceUnavailable {
						nBusy.Add(1)
					} else {
						nLimited.Add(1)
					}
					if resp.Header.Get("Retry-After") == "" {
						t.Errorf("delivery %d: %d without Retry-After", n, resp.StatusCode)
					}
				default:
					nBadCode.Add(1)
					t.Errorf("delivery %d: %d", n, resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	elapsed := time.Since(start)
	sent := uint64(total) * uint64(len(filler))
	grew := peakHeap.Load() - min(before.HeapInuse, peakHeap.Load())
	t.Logf("%d activities of 16 KB (%d MB) in %s from %d senders at once: %d accepted, %d answered 503, %d answered 429; slowest answer %s; heap %d MB before, peak %d MB (+%d MB)",
		total, sent>>20, elapsed.Round(time.Millisecond), concurrency, nAccepted.Load(), nBusy.Load(), nLimited.Load(),
		time.Duration(slowest.Load()).Round(time.Millisecond), before.HeapInuse>>20, peakHeap.Load()>>20, grew>>20)
	if nBusy.Load() == 0 {
		t.Errorf("no 503: backpressure never engaged while the inbox stream was full")
	}
	if nAccepted.Load() == 0 {
		t.Fatalf("nothing accepted")
	}
	// A server that kept what it was sent (queued in memory rather than
	// refused) would grow by the flood itself: the heap must grow by less
	// than the bytes sent.
	if grew >= sent {
		t.Errorf("the heap grew by %d MB during a flood of %d MB: the flood is kept, not refused", grew>>20, sent>>20)
	}
	// Every 202 is processed once: its note is a status on A.
	waitFor(t, 3*time.Minute, "every accepted activity processed", func() bool {
		missing := 0
		accepted.Range(func(_, note any) bool {
			if st, err := a.srv.Store.StatusByURI(ctx, note.(string)); err != nil || st == nil {
				missing++
			}
			return missing == 0
		})
		return missing == 0
	})
	t.Logf("all %d accepted processed %s after the flood began: the flood came at %.0f/s, processing went at %.0f/s",
		nAccepted.Load(), time.Since(start).Round(time.Millisecond), float64(total)/elapsed.Seconds(),
		float64(nAccepted.Load())/time.Since(start).Seconds())
	accepted.Range(func(activity, _ any) bool {
		if n, err := a.srv.Store.CountInboxActivities(ctx, activity.(string)); err != nil || n != 1 {
			t.Errorf("%s stored %d times (%v)", activity, n, err)
		}
		return true
	})
}
