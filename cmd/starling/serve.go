package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
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
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

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
	logger.Info("starling is serving", "listen", s.Addr(), "domain", cfg.Domain, "protocol", cfg.Protocol, "roles", s.roles.String(), "version", Version)
	if st, err := s.Store.InstanceStats(ctx); err == nil && st.Users == 0 {
		logger.Info("no accounts yet: create the first, then a token for a client (with the same --data-dir or --database-url)",
			"account", "starling admin account create --username NAME --email EMAIL --password PASSWORD",
			"token", "starling admin token create --username NAME",
			"client", "or sign in with the account from a Mastodon app at "+cfg.Protocol+"://"+cfg.Domain)
	}
	return s.Run(ctx)
}

// Server is the roles of Starling that Config.Roles names, in one process
// (all of them by default): the HTTP API and inbox endpoint (api),
// inbox processing (inbox), fanout and delivery (fanout), and the
// timeline builder (timeline); the relay and the stream monitor run in
// every process. Open connects and builds every part; Run runs them until
// its context ends and shuts them down in order (see Run). Start and
// Close do the same for tests, in the background.
type Server struct {
	Config *Config
	Logger *slog.Logger
	// MetricsAddr is where metrics are served when --metrics-listen is set.
	MetricsAddr string
	// Listener, if set, is used instead of listening on Config.Listen.
	Listener net.Listener
	// WrapHandler, if set, wraps the HTTP handler (tests count requests).
	WrapHandler func(http.Handler) http.Handler
	// Tracer, if set, traces requests, messages and delivery attempts;
	// else Open builds one as the OTEL_* variables say (Config.tracing),
	// or none.
	Tracer trace.TracerProvider

	// Store is the store of truth --database-url names (see openStore).
	Store Store
	// DB is Store when it is PostgreSQL, nil for the embedded store: tests
	// and benchmarks reach its pool.
	DB        *postgres.DB
	NATS      *queue.Conn
	Deliverer *fanout.Deliverer
	Topology  queue.Topology

	roles  roles   // parsed from Config.Roles by Open
	phases []phase // built by Open, run by Run
	// tracing is the tracer provider Open built, flushed by closeResources.
	tracing *sdktrace.TracerProvider

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
	if s.roles, err = parseRoles(cfg.Roles); err != nil {
		return err
	}
	topo, err := queue.NewTopology(cfg.NATSPrefix)
	if err != nil {
		return err
	}
	if s.Store, s.DB, err = openStore(ctx, cfg, logger); err != nil {
		return err
	}
	if s.Tracer == nil {
		out := cfg.traceOutput
		if out == nil {
			out = os.Stdout
		}
		if s.tracing, err = openTracing(ctx, cfg.tracing, "starling", cfg.Domain, Version, out); err != nil {
			return err
		}
		if s.tracing != nil { // not a nil pointer in a non-nil interface
			s.Tracer = s.tracing
			logger.Info("tracing on: spans go to the exporter the OTEL_* variables name")
		}
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
	if err := s.NATS.EnsureStreams(ctx, queue.Limits{MaxMsgs: int64(cfg.QueueMaxMessages), Replicas: cfg.StreamReplicas}); err != nil {
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
	// Hosts whose actors publish no Ed25519 key: their NodeInfo, read in
	// the background, says which signature standard they verify.
	software := &federation.SoftwareGuesser{Resolver: resolver, Knocker: knocker}
	resolver.Software = software
	ob := &outbox.Outbox{Store: s.Store, Site: st, Topology: topo, Accounts: resolver, Logger: logger.With("role", "outbox"), Keys: s.Store}

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
		Outcomes: outcomes, States: s.Store, Controls: controls, Tracer: s.Tracer}
	s.Topology = topo
	if s.roles[RoleFanout] {
		if err := fo.Load(ctx); err != nil {
			return err
		}
		if err := dl.Open(ctx); err != nil {
			return err
		}
		s.Deliverer = dl
	}
	proc := &inbox.Processor{Store: s.Store, Actors: resolver, Accepter: ob, Topology: topo,
		Logger: logger.With("role", "inbox"), Metrics: im, Fetcher: resolver, Sanitizer: policy}
	tb := &timeline.Builder{Store: s.Store, Publisher: s.NATS, Topology: topo, LocalDomain: cfg.Domain,
		Logger: logger.With("role", "timeline")}
	var consumers []part
	for _, c := range []struct {
		role string
		cfg  queue.ConsumerConfig
		h    queue.Handler
	}{
		{RoleTimeline, queue.ConsumerConfig{Kind: queue.Timeline, Durable: "timeline", Workers: cfg.TimelineWorkers}, tb.HandleTimeline},
		// Keyed by sending host (the subject's last token): one server's
		// flood of activities, or activities slow to apply (fetches from a
		// slow origin), take at most half the workers, and everyone
		// else's go past them.
		{RoleInbox, queue.ConsumerConfig{Kind: queue.Inbox, Durable: "inbox", Workers: cfg.InboxWorkers,
			KeyOf: func(subject string) string { return subject }, PerKey: max(cfg.InboxWorkers/2, 1), MaxWaitingPerKey: 64},
			proc.HandleInbox},
		{RoleFanout, queue.ConsumerConfig{Kind: queue.Delivery, Durable: "delivery", Workers: cfg.DeliveryWorkers,
			KeyOf: fanout.HostOf, PerKey: cfg.DeliveryPerHost, MaxAckPending: 20_000}, dl.HandleDelivery},
		// Partitioned by activity type, so that no one type (a burst of
		// posts) can hold every worker or the whole ack window: a Follow
		// behind 300 posts still gets a worker at once.
		{RoleFanout, queue.ConsumerConfig{Kind: queue.Outbox, Durable: "fanout", Workers: cfg.FanoutWorkers,
			KeyOf: func(subject string) string { return subject }, PerKey: max(cfg.FanoutWorkers*3/4, 1), MaxWaitingPerKey: 64}, fo.HandleOutbox},
	} {
		if !s.roles[c.role] {
			continue
		}
		c.cfg.AckWait, c.cfg.Logger, c.cfg.Metrics, c.cfg.Tracer = cfg.AckWait, logger, qm, s.Tracer
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
	var remoteMedia *api.RemoteMedia
	if cfg.RemoteMediaDays > 0 {
		secret, err := remoteMediaSecret(ctx, signAs)
		if err != nil {
			return err
		}
		remoteMedia = &api.RemoteMedia{Files: files, Client: client, Store: s.Store, Secret: secret,
			Logger: logger.With("role", "media")}
		sweeper.Remote, sweeper.RemoteKeep = s.Store, time.Duration(cfg.RemoteMediaDays)*24*time.Hour
	}
	srv := &api.Server{
		Store:    s.Store,
		Outbox:   ob,
		Resolver: resolver,
		Site:     st,
		Inbox: &inbox.Handler{Store: s.Store, Keys: resolver.KeyLookup, Proofs: resolver.Ed25519Key, Topology: topo,
			Logger: logger.With("role", "inbox"), Metrics: im, Standards: knocker, Gate: controls,
			Pressure: monitor, Limits: &inbox.HostLimits{PerSecond: cfg.InboxHostRate}, Ready: s.ready},
		Metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Tracer:   s.Tracer,
		Pressure: monitor,
		// Breakers and in-flight counts are this process's deliverer's:
		// none without the fanout role.
		Deliveries: &fanout.Reporter{Store: s.Store, Monitor: monitor, Deliverer: s.Deliverer,
			Backlog: func(n int) (int, map[string]int) {
				if delivery == nil {
					return 0, nil
				}
				return delivery.Backlog(n)
			}},
		Operator: &fanout.Operator{Store: s.Store, Topology: topo, Deliverer: s.Deliverer},
		Roles:    s.Store,
		Logger:   logger.With("role", "api"),
		Version:  Version,

		Interactions: ob,
		Streaming:    streaming,
		Media:        &api.Media{Files: files, Workers: cfg.MediaWorkers},
		RemoteMedia:  remoteMedia,
		Ready:        s.ready,
		PostLimit:    cfg.PostLimit,
	}
	streaming.Server = srv
	var metricsHS *httpServer
	if cfg.MetricsListen != "" {
		// Metrics (with the probes) on their own address, off the public
		// one: they name the hosts this server delivers to.
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.Metrics)
		srv.Metrics = nil
		mux.Handle("/", srv.ProbeHandler())
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("listen for metrics on %s: %w", cfg.MetricsListen, err)
		}
		s.MetricsAddr = mln.Addr().String()
		metricsHS = &httpServer{Server: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}, Listener: mln, Drain: cfg.ShutdownTimeout}
	}
	// Without the api role the process still answers its probes and is
	// scraped, on the same --listen.
	handler := srv.ProbeHandler()
	if s.roles[RoleAPI] {
		handler = srv.Handler()
	}
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
	web := []part{{"http", &httpServer{Server: hs, Listener: ln, Drain: cfg.ShutdownTimeout}}}
	if metricsHS != nil {
		web = append(web, part{"metrics", metricsHS})
	}
	loops := []part{{"relay", relay}, {"monitor", monitor}, {"software-guesser", software}}
	if s.roles[RoleAPI] {
		web = append(web, part{"streaming", streaming})
		loops = append(loops, part{"media-sweeper", sweeper})
	}
	if s.roles[RoleTimeline] {
		loops = append(loops, part{"trimmer", trimmer})
	}
	if s.roles[RoleFanout] {
		loops = append(loops, part{"unavailable-hosts", fo}, part{"delivery-outcomes", outcomes},
			part{"backlog-sampler", &fanout.BacklogSampler{Store: s.Store, Logger: logger.With("role", "delivery")}})
	}
	s.phases = []phase{
		{name: "consumers", parts: consumers, after: deliveries.CloseIdleConnections},
		{name: "http", parts: web},
		{name: "loops", parts: loops},
	}
	return nil
}

// ready is the readiness check: the store answers and NATS is connected.
// It asks the Store, never DB: a nil *postgres.DB (the embedded store) in
// an interface is not a nil interface, and pinging it panicked.
func (s *Server) ready(ctx context.Context) error {
	if p, ok := s.Store.(interface{ Ping(context.Context) error }); ok {
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
	if s.tracing != nil {
		// Flush what the batcher holds: the last spans of the shutdown.
		ctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
		defer cancel()
		if err := s.tracing.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tracing: flushing spans: %w", err))
		}
		s.tracing, s.Tracer = nil, nil
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

// remoteMediaSecret signs the links of the remote media cache: derived
// from the instance actor's private key, so every process of the server
// (and every restart) makes the same links, and nobody else can.
func remoteMediaSecret(ctx context.Context, signAs func(context.Context) (federation.Keys, error)) ([]byte, error) {
	keys, err := signAs(ctx)
	if err != nil {
		return nil, fmt.Errorf("remote media secret: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(keys.Key)
	if err != nil {
		return nil, fmt.Errorf("remote media secret: %w", err)
	}
	sum := sha256.Sum256(append([]byte("starling remote media links\x00"), der...))
	return sum[:], nil
}
