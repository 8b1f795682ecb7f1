package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// runner is a long-running part of the server: it works until its
// context ends, then finishes (drains) and returns. An error, or a return
// before its context ended, stops the whole server.
type runner interface {
	Run(ctx context.Context) error
}

// runFunc adapts a function to runner.
type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// part is a named runner.
type part struct {
	name string
	r    runner
}

// phase is a set of parts stopped together; after, if set, runs once they
// have all returned.
type phase struct {
	name  string
	parts []part
	after func()
}

// runPhases runs every part of every phase in one errgroup until ctx ends
// or a part fails, then stops the phases one after the other, in order:
// each phase's parts see their context end only once every part of the
// phases before it has returned. It returns the errors of the parts.
func runPhases(ctx context.Context, phases []phase, onStop func(cause error)) error {
	g, gctx := errgroup.WithContext(ctx)
	cancels := make([]context.CancelFunc, len(phases))
	running := make([]sync.WaitGroup, len(phases))
	for i, ph := range phases {
		// Not derived from ctx: a phase stops when its turn comes, not
		// when the signal arrives.
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cancels[i] = cancel
		for _, p := range ph.parts {
			running[i].Add(1)
			g.Go(func() error {
				defer running[i].Done()
				err := p.r.Run(pctx)
				switch {
				case err != nil:
					return fmt.Errorf("%s: %w", p.name, err)
				case pctx.Err() == nil:
					return fmt.Errorf("%s: stopped by itself", p.name)
				}
				return nil
			})
		}
	}
	g.Go(func() error {
		<-gctx.Done() // the signal, or a part failed
		onStop(context.Cause(gctx))
		for i, ph := range phases {
			cancels[i]()
			running[i].Wait()
			if ph.after != nil {
				ph.after()
			}
		}
		return nil
	})
	return g.Wait()
}

// httpServer serves HTTP on a listener until its context ends, then shuts
// down gracefully: it stops accepting, lets requests finish for up to
// Drain, and returns.
type httpServer struct {
	Server   *http.Server
	Listener net.Listener
	Drain    time.Duration
}

// Run serves until ctx ends and the server has shut down.
func (h *httpServer) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- h.Server.Serve(h.Listener) }() // awaited below, whatever happens
	select {
	case err := <-served:
		return err // never http.ErrServerClosed: only Shutdown below closes it
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.Drain)
	defer cancel()
	err := h.Server.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
