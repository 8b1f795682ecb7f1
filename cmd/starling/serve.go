package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/starling-social/starling/media"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/fanout"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/inbox"
	"github.com/starling-social/starling/outbox"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/sanitize"
	"github.com/starling-social/starling/signature"
	"github.com/starling-social/starling/store/postgres"
	"github.com/starling-social/starling/timeline"
)

// serve runs a Server until ctx is cancelled (SIGINT, SIGTERM), then shuts
// it down in order, each phase within --shutdown-timeout.
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
	s := &Server{Config: cfg, Logger: logger}
	if err := s.Open(ctx); err != nil {
		return err
	}
	logger.Info("starling is serving", "listen", s.Addr(), "domain", cfg.Domain, "protocol", cfg.Protocol, "version", Version)
	if st, err := s.Store.InstanceStats(ctx); err == nil && st.Users == 0 {
		logger.Info("no accounts yet: create the first, then a token for a client (with the same --data-dir or --database-url)",
			"account", "starling admin account create --username NAME --email EMAIL --password PASSWORD",
			"token", "starling admin token create --username NAME",
			"client", "or sign in with the account from a Mastodon app at "+cfg.Protocol+"://"+cfg.Domain)
	}
	return s.Run(ctx)
}

// Server is every role of Starling in one process: the HTTP API and inbox,
// the relay, fanout and delivery, inbox processing, and the timeline
// builder. Open connects and builds every part; Run runs them until its
// context ends and shuts them down in order (see Run). Start and Close do
// the same for tests, in the background.
type Server struct {
	Config *Config
	Logger *slog.Logger
	// Listener, if set, is used instead of listening on Config.Listen.
	Listener net.Listener
	// WrapHandler, if set, wraps the HTTP handler (tests count requests).
	WrapHandler func(http.Handler) http.Handler

	// Store is the store of truth --database-url names (see openStore).
	Store Store
	// DB is Store when it is PostgreSQL, nil for the embedded store: tests
	// and benchmarks reach its pool.
	DB        *postgres.DB
	NATS      *queue.Conn
	Deliverer *fanout.Deliverer
	Topology  queue.Topology

	phases []phase // built by Open, run by Run

	// Set by Start, for Close.
	cancel  context.CancelFunc
	stopped chan struct{}
	runErr  error
}

// Open opens and migrates the store, connects to NATS, ensures the streams and
// the durable consumers, and builds every long-running part. It starts
// nothing: Run does. On error what was opened is closed.
func (s *Server) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.closeResources()
		}
	}()
	s.Config.setDefaults()
	cfg, logger := s.Config, s.Logger
	topo, err := queue.NewTopology(cfg.NATSPrefix)
	if err != nil {
		return err
	}
	if s.Store, s.DB, err = openStore(ctx, cfg, logger); err != nil {
		return err
	}
	st := site(cfg)
	adm := &api.Admin{Store: s.Store, Site: st}
	if err := adm.EnsureInstanceActor(ctx); err != nil {
		return fmt.Errorf("instance actor: %w", err)
	}
	if n, err := adm.EnsureEd25519Keys(ctx); err != nil {
		return fmt.Errorf("ed25519 keys: %w", err)
	} else if n > 0 {
		logger.Info("generated ed25519 keys", "accounts", n)
	}
	signAs, err := instanceKey(ctx, s.Store)
	if err != nil {
		return err
	}

	if s.NATS, err = queue.Dial(cfg.NATSURL, filepath.Join(cfg.DataDir, "nats"), "starling "+cfg.Domain, topo); err != nil {
		return err
	}
	if err := s.NATS.EnsureStreams(ctx, queue.Limits{MaxMsgs: int64(cfg.QueueMaxMessages)}); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	qm := queue.NewMetrics(reg)
	im := inbox.NewMetrics(reg)

	client := federation.NewHTTPClient(cfg.FetchTimeout, cfg.AllowPrivateAddresses)
	knocker := &federation.Knocker{Store: s.Store, Logger: logger.With("role", "signatures")}
	// One sanitiser for every stage that stores what remotes send: a
	// policy is costly to build and safe to share.
	policy := sanitize.New()
	resolver := &federation.Resolver{
		Store:     s.Store,
		Client:    client,
		Site:      st,
		Scheme:    cfg.Protocol,
		SignAs:    signAs,
		Knocker:   knocker,
		Sanitizer: policy,
	}
	ob := &outbox.Outbox{Store: s.Store, Site: st, Topology: topo, Accounts: resolver, Logger: logger.With("role", "outbox")}

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
	// What admins decided about hosts (pause, suspend, retry, purge), read
	// by fanout, delivery and the inbox from one cache per process.
	controls := &fanout.Controls{Store: s.Store, Logger: logger.With("role", "delivery")}
	outcomes := &fanout.Outcomes{Store: s.Store, Logger: logger.With("role", "delivery")}
	fo := &fanout.Fanout{Store: s.Store, Publisher: s.NATS, Topology: topo, Logger: logger.With("role", "fanout"), Metrics: dm,
		Records: s.Store, Controls: controls, Trim: s.Store}
	deliveries := federation.NewDeliveryClient(cfg.DeliveryTimeout, cfg.AllowPrivateAddresses)
	dl := &fanout.Deliverer{Store: s.Store, Client: deliveries, Topology: topo,
		UserAgent: "Starling/" + Version + " (+" + st.Base() + "/)",
		Policy: fanout.Policy{
			Schedule: schedule, PerHost: cfg.DeliveryPerHost,
			BreakerFailures: uint32(cfg.DeliveryBreakerFails), BreakerTimeout: cfg.DeliveryBreakerTimeout,
			UnavailableAfterDays: cfg.UnavailableAfterDays,
		},
		Logger: logger.With("role", "delivery"), Metrics: dm, Knocker: knocker,
		Outcomes: outcomes, States: s.Store, Controls: controls}
	if err := fo.Load(ctx); err != nil {
		return err
	}
	if err := dl.Open(ctx); err != nil {
		return err
	}
	s.Deliverer, s.Topology = dl, topo
	proc := &inbox.Processor{Store: s.Store, Actors: resolver, Accepter: ob, Topology: topo,
		Logger: logger.With("role", "inbox"), Metrics: im, Fetcher: resolver, Sanitizer: policy}
	tb := &timeline.Builder{Store: s.Store, Publisher: s.NATS, Topology: topo, LocalDomain: cfg.Domain,
		Logger: logger.With("role", "timeline")}
	var consumers []part
	for _, c := range []struct {
		cfg queue.ConsumerConfig
		h   queue.Handler
	}{
		{queue.ConsumerConfig{Kind: queue.Timeline, Durable: "timeline", Workers: cfg.TimelineWorkers}, tb.HandleTimeline},
		// Keyed by sending host (the subject's last token): one server's
		// flood of activities, or activities slow to apply (fetches from a
		// slow origin), take at most half the workers, and everyone
		// else's go past them.
		{queue.ConsumerConfig{Kind: queue.Inbox, Durable: "inbox", Workers: cfg.InboxWorkers,
			KeyOf: func(subject string) string { return subject }, PerKey: max(cfg.InboxWorkers/2, 1), MaxWaitingPerKey: 64},
			proc.HandleInbox},
		{queue.ConsumerConfig{Kind: queue.Delivery, Durable: "delivery", Workers: cfg.DeliveryWorkers,
			KeyOf: fanout.HostOf, PerKey: cfg.DeliveryPerHost, MaxAckPending: 20_000}, dl.HandleDelivery},
		// Partitioned by activity type, so that no one type (a burst of
		// posts) can hold every worker or the whole ack window: a Follow
		// behind 300 posts still gets a worker at once.
		{queue.ConsumerConfig{Kind: queue.Outbox, Durable: "fanout", Workers: cfg.FanoutWorkers,
			KeyOf: func(subject string) string { return subject }, PerKey: max(cfg.FanoutWorkers*3/4, 1), MaxWaitingPerKey: 64}, fo.HandleOutbox},
	} {
		c.cfg.AckWait, c.cfg.Logger, c.cfg.Metrics = cfg.AckWait, logger, qm
		c.cfg.MaxAttempts, c.cfg.Failures, c.cfg.DrainTimeout = cfg.QueueMaxAttempts, s.Store, cfg.ShutdownTimeout
		if c.cfg.Kind != queue.Delivery { // deliveries schedule their own retries
			c.cfg.Later = laterEvents{s.Store}
		}
		consumer, err := queue.NewConsumer(ctx, s.NATS, c.cfg, c.h)
		if err != nil {
			return err
		}
		if c.cfg.Kind == queue.Delivery {
			delivery = consumer
		}
		consumers = append(consumers, part{"consumer " + c.cfg.Durable, consumer})
	}

	relay := &queue.Relay{Source: s.Store, Conn: s.NATS, Logger: logger.With("role", "relay"), Metrics: qm}
	monitor := &queue.Monitor{Conn: s.NATS, Store: s.Store, Logger: logger.With("role", "monitor")}
	reg.MustRegister(monitor)
	trimmer := &timeline.Trimmer{Store: s.Store, Logger: logger.With("role", "trimmer")}

	streaming := &api.Streaming{Events: s.NATS}
	var files interface {
		api.MediaFiles
		Delete(ctx context.Context, key string) error
	} = &media.Files{Dir: filepath.Join(cfg.DataDir, "media")}
	if cfg.MediaS3Endpoint != "" {
		if files, err = media.NewS3(media.S3Config{Endpoint: cfg.MediaS3Endpoint, Bucket: cfg.MediaS3Bucket, Region: cfg.MediaS3Region,
			AccessKey: cfg.MediaS3AccessKey, SecretKey: cfg.MediaS3SecretKey, Insecure: cfg.MediaS3Insecure}); err != nil {
			return err
		}
	}
	sweeper := &media.Sweeper{Store: s.Store, Files: files, Logger: logger.With("role", "media")}
	srv := &api.Server{
		Store:    s.Store,
		Outbox:   ob,
		Resolver: resolver,
		Site:     st,
		Inbox: &inbox.Handler{Store: s.Store, Keys: resolver.KeyLookup, Proofs: resolver.Ed25519Key, Topology: topo,
			Logger: logger.With("role", "inbox"), Metrics: im, Standards: knocker, Gate: controls,
			Pressure: monitor, Limits: &inbox.HostLimits{PerSecond: cfg.InboxHostRate}},
		Metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Pressure: monitor,
		Deliveries: &fanout.Reporter{Store: s.Store, Monitor: monitor, Deliverer: dl,
			Backlog: func(n int) (int, map[string]int) { return delivery.Backlog(n) }},
		Operator: &fanout.Operator{Store: s.Store, Topology: topo, Deliverer: dl},
		Roles:    s.Store,
		Logger:   logger.With("role", "api"),
		Version:  Version,

		Interactions: ob,
		Streaming:    streaming,
		Media:        &api.Media{Files: files, Workers: cfg.MediaWorkers},
		Ready:        s.ready,
		PostLimit:    cfg.PostLimit,
	}
	streaming.Server = srv
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
	s.Listener = ln
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.HTTPReadTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Streams never go idle: drop their clients when shutdown begins, or
	// Shutdown would wait for them until its deadline.
	hs.RegisterOnShutdown(streaming.Close)

	// The order of shutdown (see Run and ARCHITECTURE.md, Lifecycle).
	s.phases = []phase{
		{name: "consumers", parts: consumers, after: deliveries.CloseIdleConnections},
		{name: "http", parts: []part{{"http", &httpServer{Server: hs, Listener: ln, Drain: cfg.ShutdownTimeout}}, {"streaming", streaming}}},
		{name: "loops", parts: []part{{"relay", relay}, {"monitor", monitor}, {"trimmer", trimmer}, {"unavailable-hosts", fo}, {"media-sweeper", sweeper},
			{"delivery-outcomes", outcomes}}},
	}
	return nil
}

// ready is the readiness check: the store answers and NATS is connected.
func (s *Server) ready(ctx context.Context) error {
	if p, ok := any(s.DB).(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return s.NATS.Ready()
}

// Addr is the address the HTTP server listens on.
func (s *Server) Addr() string {
	if s.Listener == nil {
		return ""
	}
	return s.Listener.Addr().String()
}

// Run runs every part Open built, all in one errgroup, until ctx ends or
// a part fails. Then it shuts down in the order that loses nothing:
//
//  1. the consumers stop fetching and finish what they hold (for at most
//     --shutdown-timeout; the rest stays queued), while HTTP still
//     answers: a remote verifying an in-flight delivery fetches our
//     actor's key, and must find it;
//  2. HTTP stops (streaming clients are dropped; requests accepted
//     meanwhile only added rows to the store);
//  3. the relay, the monitor and the feed trimmer stop (unpublished
//     events stay in the store);
//  4. the NATS connection is drained and closed (and an embedded
//     nats-server shut down), then the store.
//
// It returns every part's error, and the connections' closing errors.
func (s *Server) Run(ctx context.Context) error {
	err := runPhases(ctx, s.phases, func(cause error) {
		if ctx.Err() != nil {
			s.Logger.Info("shutting down")
		} else {
			s.Logger.Error("a part of the server failed; shutting down", "error", cause)
		}
	})
	return errors.Join(err, s.closeResources())
}

// closeResources closes NATS, then the store: after every part has
// returned (or when Open failed).
func (s *Server) closeResources() error {
	var errs []error
	if s.NATS != nil {
		errs = append(errs, s.NATS.Close())
		s.NATS = nil
	}
	if s.Store != nil {
		s.Store.Close()
		s.Store, s.DB = nil, nil
	}
	return errors.Join(errs...)
}

// Start opens the server and runs it in the background until Close.
func (s *Server) Start(ctx context.Context) error {
	if err := s.Open(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.stopped = cancel, make(chan struct{})
	go func() { // awaited by Close
		defer close(s.stopped)
		s.runErr = s.Run(rctx)
	}()
	return nil
}

// Close stops a server started with Start, as a signal stops serve, and
// waits for Run to return, or for ctx to end.
func (s *Server) Close(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	select {
	case <-s.stopped:
		return s.runErr
	case <-ctx.Done():
		return fmt.Errorf("close: %w", ctx.Err())
	}
}

// instanceKey loads the instance actor's keys, which sign every fetch,
// once at start: no query on the first fetch.
func instanceKey(ctx context.Context, db Store) (func(context.Context) (federation.Keys, error), error) {
	a, err := db.AccountByAcct(ctx, federation.InstanceActorUsername, "")
	if err != nil {
		return nil, fmt.Errorf("instance actor: %w", err)
	}
	sk, err := db.SigningKeys(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("instance actor key: %w", err)
	}
	keys := federation.Keys{KeyID: sk.KeyID}
	if keys.Key, err = signature.ParsePrivateKey(sk.PEM); err != nil {
		return nil, fmt.Errorf("instance actor key: %w", err)
	}
	if sk.Ed25519PEM != "" {
		if keys.Ed25519, err = signature.ParsePrivateKey(sk.Ed25519PEM); err != nil {
			return nil, fmt.Errorf("instance actor ed25519 key: %w", err)
		}
		keys.Ed25519KeyID = sk.Ed25519KeyID
	}
	return func(context.Context) (federation.Keys, error) { return keys, nil }, nil
}

// laterEvents holds a failed message's next attempt as an events row due
// later, which the relay publishes then: see queue.ConsumerConfig.Later.
type laterEvents struct{ db Store }

func (l laterEvents) Reschedule(ctx context.Context, subject, msgID string, data []byte, headers map[string]string, due time.Time) error {
	return l.db.AppendEvents(ctx, starling.Event{MsgID: msgID, Subject: subject, Payload: data, Headers: headers, DueAt: due})
}
