package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder notes when parts start and stop.
type lifeRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *lifeRecorder) note(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

// part runs until ctx ends, then takes drain to stop.
func (r *lifeRecorder) part(name string, drain time.Duration) part {
	return part{name, runFunc(func(ctx context.Context) error {
		r.note("start " + name)
		<-ctx.Done()
		time.Sleep(drain)
		r.note("stop " + name)
		return nil
	})}
}

// TestRunPhasesOrder: on the signal, each phase is told to stop only once
// every part of the phase before it has returned (consumers drain while
// HTTP still serves).
func TestRunPhasesOrder(t *testing.T) {
	r := &lifeRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var after []string
	go func() {
		done <- runPhases(ctx, []phase{
			{name: "consumers", parts: []part{r.part("fanout", 50*time.Millisecond), r.part("delivery", 100*time.Millisecond)},
				after: func() { r.note("after consumers") }},
			{name: "http", parts: []part{r.part("http", 0)}},
			{name: "loops", parts: []part{r.part("relay", 0)}},
		}, func(cause error) { after = append(after, "stopping") })
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runPhases: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	stops := []string{}
	for _, e := range r.events {
		if !strings.HasPrefix(e, "start ") {
			stops = append(stops, e)
		}
	}
	want := "stop fanout,stop delivery,after consumers,stop http,stop relay"
	if got := strings.Join(stops, ","); got != want {
		t.Errorf("stopped in the order %s, want %s", got, want)
	}
	if len(after) != 1 {
		t.Errorf("onStop called %d times, want once", len(after))
	}
}

// TestRunPhasesFailure: a part that fails, or returns before it is told
// to, stops the whole server, and its error is returned.
func TestRunPhasesFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(context.Context) error
		want string
	}{
		{"error", func(context.Context) error { return errors.New("store away") }, "monitor: store away"},
		{"early return", func(context.Context) error { return nil }, "monitor: stopped by itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &lifeRecorder{}
			var cause error
			err := runPhases(context.Background(), []phase{
				{name: "consumers", parts: []part{r.part("fanout", 0)}},
				{name: "loops", parts: []part{{"monitor", runFunc(tc.run)}}},
			}, func(c error) { cause = c })
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %s", err, tc.want)
			}
			if cause == nil {
				t.Error("onStop was not told why")
			}
			if strings.Join(r.events, ",") != "start fanout,stop fanout" {
				t.Errorf("events %v: the other parts were not stopped", r.events)
			}
		})
	}
}

// TestConfigFromEnvironment: tuning settings come from flags or STARLING_*
// variables, GOGC is remembered (it wins over --gc-percent), and a Config
// built without flags gets the flags' defaults.
func TestConfigFromEnvironment(t *testing.T) {
	env := map[string]string{
		"STARLING_INBOX_WORKERS":    "3",
		"STARLING_SHUTDOWN_TIMEOUT": "5s",
		"STARLING_GC_PERCENT":       "200",
		"GOGC":                      "100",
	}
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	errs := cfg.register(fs, func(k string) string { return env[k] })
	if err := fs.Parse([]string{"--fanout-workers", "6"}); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(errs.err(), cfg.validate()); err != nil {
		t.Fatal(err)
	}
	if cfg.InboxWorkers != 3 || cfg.ShutdownTimeout != 5*time.Second || cfg.GCPercent != 200 || cfg.FanoutWorkers != 6 ||
		cfg.TimelineWorkers != DefaultTimelineWorkers || cfg.gogc != "100" {
		t.Errorf("config %+v", cfg)
	}

	var bare Config
	bare.setDefaults()
	if bare.InboxWorkers != DefaultInboxWorkers || bare.ShutdownTimeout != DefaultShutdownTimeout ||
		bare.DeliveryTimeout != DefaultDeliveryTimeout || bare.GCPercent != DefaultGCPercent {
		t.Errorf("defaults %+v", bare)
	}

	env["STARLING_SHUTDOWN_TIMEOUT"] = "10ms"
	cfg = Config{}
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	errs = cfg.register(fs, func(k string) string { return env[k] })
	_ = fs.Parse(nil)
	if err := errors.Join(errs.err(), cfg.validate()); err == nil || !strings.Contains(err.Error(), "--shutdown-timeout") {
		t.Errorf("a 10ms shutdown timeout: error %v", err)
	}
}
