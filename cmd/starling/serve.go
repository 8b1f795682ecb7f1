package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/fanout"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/inbox"
	"github.com/starling-social/starling/outbox"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/sanitize"
	"github.com/starling-social/starling/signature"
	"github.com/starling-social/starling/store"
	"github.com/starling-social/starling/timeline"
)

// serve runs a Server until ctx is cancelled (SIGINT, SIGTERM), then shuts
// it down within 30 seconds.
func serve(ctx context.Context, cfg *Config, logger *slog.Logger) error {
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
	s := &Server{Config: cfg, Logger: logger}
	if err := s.Open(ctx); err != nil {
		return err
	}
	logger.Info("starling is serving", "listen", s.Addr(), "domain", cfg.Domain, "protocol", cfg.Protocol, "version", Version)
	<-ctx.Done()
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Close(shutdownCtx)
}

// Server is every role of Starling in one process: the HTTP API and inbox,
// the relay, fanout and delivery, inbox processing, and the timeline
// builder. Open starts it; Close stops it in order.
type Server struct {
	Config *Config
	Logger *slog.Logger
	// Listener, if set, is used instead of listening on Config.Listen.
	Listener net.Listener
	// WrapHandler, if set, wraps the HTTP handler (tests count requests).
	WrapHandler func(http.Handler) http.Handler

	DB        *store.DB
	Deliverer *fanout.Deliverer
	Topology  queue.Topology
	embedded  *server.Server
	nc        *nats.Conn
	http      *http.Server
	serveErr  chan error
	// deliveries holds kept-alive connections to remote inboxes.
	deliveries *http.Client

	consumers []*queue.Consumer
	cancel    context.CancelFunc // stops the relay and the feed trimmer
	streaming *api.Streaming
	relayDone sync.WaitGroup
}

// Open connects to PostgreSQL and NATS, migrates, and starts every role.
// On error everything already started is stopped.
func (s *Server) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Close(closeCtx)
		}
	}()
	cfg, logger := s.Config, s.Logger
	topo, err := queue.NewTopology(cfg.NATSPrefix)
	if err != nil {
		return err
	}
	if s.DB, err = store.Open(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	if err := s.DB.Migrate(ctx, logger); err != nil {
		return err
	}
	st := site(cfg)
	adm := &api.Admin{Store: s.DB, Site: st}
	if err := adm.EnsureInstanceActor(ctx); err != nil {
		return fmt.Errorf("create instance actor: %w", err)
	}

	if cfg.NATSURL == "" {
		if s.embedded, err = queue.StartEmbedded(filepath.Join(cfg.DataDir, "nats")); err != nil {
			return err
		}
	}
	if s.nc, err = queue.Connect(cfg.NATSURL, s.embedded, "starling "+cfg.Domain); err != nil {
		return err
	}
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := queue.EnsureStreams(ctx, js, topo, queue.Limits{MaxMsgs: int64(cfg.QueueMaxMessages)}); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	qm := queue.NewMetrics(reg)
	im := inbox.NewMetrics(reg)

	client := federation.NewHTTPClient(30*time.Second, cfg.AllowPrivateAddresses)
	knocker := &federation.Knocker{Store: s.DB, Logger: logger.With("role", "signatures")}
	resolver := &federation.Resolver{
		Store:   s.DB,
		Client:  client,
		Site:    st,
		Scheme:  cfg.Protocol,
		SignAs:  instanceKey(s.DB),
		Knocker: knocker,
	}
	ob := &outbox.Outbox{Store: s.DB, Site: st, Topology: topo, Accounts: resolver, Logger: logger.With("role", "outbox")}

	// Consumers. Each role has its own durable consumer and worker pool;
	// deliveries are also capped per destination host.
	schedule, err := fanout.ParseSchedule(cfg.DeliveryRetrySchedule)
	if err != nil {
		return err
	}
	var delivery *queue.Consumer
	dm := fanout.NewDeliveryMetrics(reg, func(n int) (int, map[string]int) {
		if delivery == nil {
			return 0, nil
		}
		return delivery.Backlog(n)
	})
	fo := &fanout.Fanout{Store: s.DB, JS: js, Topology: topo, Logger: logger.With("role", "fanout"), Metrics: dm}
	s.deliveries = federation.NewDeliveryClient(30*time.Second, cfg.AllowPrivateAddresses)
	dl := &fanout.Deliverer{Store: s.DB, Client: s.deliveries, Topology: topo,
		UserAgent: "Starling/" + Version + " (+" + st.Base() + "/)",
		Policy: fanout.Policy{
			Schedule: schedule, PerHost: cfg.DeliveryPerHost,
			BreakerFailures: uint32(cfg.DeliveryBreakerFails), BreakerTimeout: cfg.DeliveryBreakerTimeout,
			UnavailableAfterDays: cfg.UnavailableAfterDays,
		},
		Logger: logger.With("role", "delivery"), Metrics: dm, Knocker: knocker}
	s.Deliverer, s.Topology = dl, topo
	proc := &inbox.Processor{Store: s.DB, Actors: resolver, Accepter: ob, Topology: topo,
		Logger: logger.With("role", "inbox"), Metrics: im, Fetcher: resolver, Sanitizer: sanitize.New()}
	tb := &timeline.Builder{Store: s.DB, Publisher: s.nc, Topology: topo, LocalDomain: cfg.Domain,
		Logger: logger.With("role", "timeline")}
	for _, c := range []struct {
		cfg queue.ConsumerConfig
		h   queue.Handler
	}{
		{queue.ConsumerConfig{Kind: queue.Timeline, Durable: "timeline", Workers: 4}, tb.HandleTimeline},
		{queue.ConsumerConfig{Kind: queue.Inbox, Durable: "inbox", Workers: 8}, proc.HandleInbox},
		{queue.ConsumerConfig{Kind: queue.Delivery, Durable: "delivery", Workers: cfg.DeliveryWorkers,
			KeyOf: fanout.HostOf, PerKey: cfg.DeliveryPerHost, MaxAckPending: 20_000}, dl.HandleDelivery},
		// Partitioned by activity type, so that no one type (a burst of
		// posts) can hold every worker or the whole ack window: a Follow
		// behind 300 posts still gets a worker at once.
		{queue.ConsumerConfig{Kind: queue.Outbox, Durable: "fanout", Workers: 4,
			KeyOf: func(m jetstream.Msg) string { return m.Subject() }, PerKey: 3, MaxWaitingPerKey: 64}, fo.HandleOutbox},
	} {
		c.cfg.AckWait, c.cfg.Logger, c.cfg.Metrics = cfg.AckWait, logger, qm
		c.cfg.MaxAttempts, c.cfg.Failures = cfg.QueueMaxAttempts, s.DB
		consumer, err := queue.Consume(ctx, js, topo, c.cfg, c.h)
		if err != nil {
			return err
		}
		if c.cfg.Kind == queue.Delivery {
			delivery = consumer
		}
		s.consumers = append(s.consumers, consumer)
	}

	// The relay and the monitor are loops over the store and the streams,
	// stopped together.
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	relay := &queue.Relay{Source: s.DB, JS: js, Logger: logger.With("role", "relay"), Metrics: qm}
	monitor := &queue.Monitor{JS: js, Topology: topo, Store: s.DB, Logger: logger.With("role", "monitor")}
	reg.MustRegister(monitor)
	s.relayDone.Add(2)
	go func() {
		defer s.relayDone.Done()
		_ = relay.Run(loopCtx)
	}()
	go func() {
		defer s.relayDone.Done()
		monitor.Run(loopCtx)
	}()
	trimmer := &timeline.Trimmer{Store: s.DB, Logger: logger.With("role", "trimmer")}
	s.relayDone.Add(1)
	go func() {
		defer s.relayDone.Done()
		trimmer.Run(loopCtx)
	}()

	srv := &api.Server{
		Store:    s.DB,
		Outbox:   ob,
		Resolver: resolver,
		Site:     st,
		Inbox: &inbox.Handler{Store: s.DB, Keys: resolver.KeyLookup, Topology: topo,
			Logger: logger.With("role", "inbox"), Metrics: im, Standards: knocker},
		Metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Pressure: monitor,
		Deliveries: &fanout.Reporter{Store: s.DB, Monitor: monitor, Deliverer: dl,
			Backlog: func(n int) (int, map[string]int) { return delivery.Backlog(n) }},
		Logger:  logger.With("role", "api"),
		Version: Version,

		Interactions: ob,
		Streaming:    &api.Streaming{Subscribe: streamSubscriber(s.nc, topo)},
	}
	if err := srv.Streaming.Start(srv); err != nil {
		return err
	}
	s.streaming = srv.Streaming
	var handler http.Handler = srv.Handler()
	if s.WrapHandler != nil {
		handler = s.WrapHandler(handler)
	}
	ln := s.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Streams never go idle: drop their clients when shutdown begins, or
	// Shutdown would wait for them until its deadline.
	s.http.RegisterOnShutdown(srv.Streaming.Close)
	s.Listener = ln
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.http.Serve(ln) }()
	return nil
}

// Addr is the address the HTTP server listens on.
func (s *Server) Addr() string {
	if s.Listener == nil {
		return ""
	}
	return s.Listener.Addr().String()
}

// Close shuts down in the order that loses nothing: let consumers finish
// what they hold (the rest stays queued), stop serving HTTP (requests
// accepted meanwhile only add rows to the store), stop the relay
// (unpublished events stay in the store), then NATS and PostgreSQL. It
// returns every error.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range s.consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Stop(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.consumers = nil
	if s.deliveries != nil {
		s.deliveries.CloseIdleConnections()
	}
	// Streams end first: http.Server.Shutdown waits for open SSE requests
	// and never closes hijacked WebSockets.
	if s.streaming != nil {
		s.streaming.Close()
		s.streaming = nil
	}
	// HTTP stops after the consumers: a remote verifying an in-flight
	// delivery fetches our actor's key, and must find it.
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		if err := <-s.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		s.http = nil
	}

	if s.cancel != nil {
		s.cancel()
		s.relayDone.Wait()
		s.cancel = nil
	}
	if s.nc != nil {
		if err := s.nc.Drain(); err != nil {
			errs = append(errs, err)
		}
		s.nc = nil
	}
	if s.embedded != nil {
		s.embedded.Shutdown()
		s.embedded.WaitForShutdown()
		s.embedded = nil
	}
	if s.DB != nil {
		s.DB.Close()
		s.DB = nil
	}
	return errors.Join(errs...)
}

// instanceKey returns the instance actor's key, loaded once.
func instanceKey(db *store.DB) func(context.Context) (string, crypto.PrivateKey, error) {
	var mu sync.Mutex
	var keyID string
	var key crypto.PrivateKey
	return func(ctx context.Context) (string, crypto.PrivateKey, error) {
		mu.Lock()
		defer mu.Unlock()
		if key != nil {
			return keyID, key, nil
		}
		a, err := db.AccountByAcct(ctx, federation.InstanceActorUsername, "")
		if err != nil {
			return "", nil, fmt.Errorf("instance actor: %w", err)
		}
		k, err := signature.ParsePrivateKey(a.PrivateKeyPEM)
		if err != nil {
			return "", nil, fmt.Errorf("instance actor key: %w", err)
		}
		keyID, key = a.KeyID, k
		return keyID, key, nil
	}
}

// streamSubscriber delivers the timeline builder's streaming events (core
// NATS, every process gets every event) to the API's streaming hub.
func streamSubscriber(nc *nats.Conn, topo queue.Topology) func(func([]byte)) (func(), error) {
	return func(handle func([]byte)) (func(), error) {
		sub, err := nc.Subscribe(topo.StreamSubject(), func(m *nats.Msg) { handle(m.Data) })
		if err != nil {
			return nil, err
		}
		// Streaming clients are dropped when slow; the subscription itself
		// may hold a burst (a popular account's post) without being cut.
		_ = sub.SetPendingLimits(1<<20, 256<<20)
		return func() { _ = sub.Unsubscribe() }, nil
	}
}
