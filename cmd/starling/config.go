package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/fanout"
	"github.com/starling-social/starling/queue"
)

// Config is every setting of every subcommand. Each flag can also be set by
// the environment variable STARLING_<FLAG> (upper case, dashes as
// underscores); a flag on the command line wins.
type Config struct {
	Listen                string
	MetricsListen         string
	RemoteMediaDays       int
	Domain                string
	Protocol              string
	DatabaseURL           string
	NATSURL               string
	NATSPrefix            string
	DataDir               string
	AllowPrivateAddresses bool
	LogLevel              string
	LogFormat             string
	// Roles is the comma-separated roles serve runs (see parseRoles);
	// empty: all of them.
	Roles string
	// StreamReplicas is how many NATS servers keep each stream; 3 on a
	// cluster survives the loss of one. Zero: 1.
	StreamReplicas int

	// Tuning. A zero field (a Config built in a test) takes the flag's
	// default (setDefaults).
	AckWait          time.Duration
	QueueMaxAttempts int
	TimelineWorkers  int
	MediaWorkers     int
	PostLimit        int
	InboxHostRate    float64
	// Media files in an S3-compatible object store instead of under
	// DataDir (for several machines); MediaBaseURL is the bucket's public
	// URL (or a CDN's).
	MediaS3Endpoint, MediaS3Bucket, MediaS3Region string
	MediaS3AccessKey, MediaS3SecretKey            string
	MediaS3Insecure                               bool
	MediaBaseURL                                  string
	InboxWorkers                                  int
	FanoutWorkers                                 int
	DeliveryWorkers                               int
	DeliveryPerHost                               int
	DeliveryRetrySchedule                         string
	DeliveryBreakerFails                          int
	DeliveryBreakerTimeout                        time.Duration
	UnavailableAfterDays                          int
	CPUProfile                                    string
	QueueMaxMessages                              int
	GCPercent                                     int
	ShutdownTimeout                               time.Duration
	FetchTimeout                                  time.Duration
	DeliveryTimeout                               time.Duration
	HTTPReadTimeout                               time.Duration

	// gogc is the GOGC environment variable, which wins over GCPercent.
	gogc string
	// tracing is what the OTEL_* variables say (tracing.go), and
	// traceOutput where the console exporter writes (default stdout).
	tracing     tracingEnv
	traceOutput io.Writer
}

// Defaults of the tuning settings.
const (
	DefaultTimelineWorkers = 4
	// DefaultMediaWorkers: pictures processed at once (each takes about
	// a second of a core for a 12-megapixel photo).
	DefaultMediaWorkers    = 2
	DefaultInboxWorkers    = 8
	DefaultFanoutWorkers   = 4
	DefaultDeliveryWorkers = 512
	DefaultShutdownTimeout = 30 * time.Second
	DefaultFetchTimeout    = 30 * time.Second
	DefaultDeliveryTimeout = 30 * time.Second
	DefaultHTTPReadTimeout = 30 * time.Second
	// A delivery allocates a few KB and keeps none of it, and the live heap
	// is small: collecting at 5x the live heap instead of Go's 2x cuts the
	// collector's share of a fanout's CPU by three quarters (BENCHMARKS.md).
	DefaultGCPercent = 400
)

// setDefaults gives the zero tuning fields their defaults, as the flags
// do: tests build a Config without flags.
func (cfg *Config) setDefaults() {
	if cfg.Protocol == "" {
		cfg.Protocol = defaultProtocol(cfg.Domain)
	}
	for _, f := range []struct {
		p   *int
		def int
	}{{&cfg.TimelineWorkers, DefaultTimelineWorkers}, {&cfg.MediaWorkers, DefaultMediaWorkers}, {&cfg.InboxWorkers, DefaultInboxWorkers},
		{&cfg.FanoutWorkers, DefaultFanoutWorkers}, {&cfg.DeliveryWorkers, DefaultDeliveryWorkers},
		{&cfg.GCPercent, DefaultGCPercent}, {&cfg.QueueMaxAttempts, queue.DefaultMaxAttempts}, {&cfg.StreamReplicas, 1}} {
		if *f.p == 0 {
			*f.p = f.def
		}
	}
	for _, f := range []struct {
		p   *time.Duration
		def time.Duration
	}{{&cfg.ShutdownTimeout, DefaultShutdownTimeout}, {&cfg.FetchTimeout, DefaultFetchTimeout},
		{&cfg.DeliveryTimeout, DefaultDeliveryTimeout}, {&cfg.HTTPReadTimeout, DefaultHTTPReadTimeout}} {
		if *f.p == 0 {
			*f.p = f.def
		}
	}
}

// applyRuntime sets the Go runtime's tuning from cfg: the garbage
// collector's target, unless GOGC is set. Only main's path calls it.
func (cfg *Config) applyRuntime() {
	if cfg.gogc == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
}

// DefaultDatabaseURL is empty: the embedded store, a SQLite file under
// --data-dir, so that a fresh machine needs nothing installed. A
// postgres:// URL names PostgreSQL, whose database is created on first
// start.
const DefaultDatabaseURL = ""

// register defines cfg's flags on fs, with defaults taken from the
// environment where set.
func (cfg *Config) register(fs *flag.FlagSet, getenv func(string) string) *envErrors {
	errs := &envErrors{}
	cfg.gogc = getenv("GOGC")
	cfg.tracing = readTracingEnv(getenv)
	str := func(p *string, name, def, usage string) {
		if v := getenv(envName(name)); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage)
	}
	boolean := func(p *bool, name string, def bool, usage string) {
		if v := getenv(envName(name)); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs.add(fmt.Errorf("%s=%q: want true or false", envName(name), v))
			}
			def = b
		}
		fs.BoolVar(p, name, def, usage)
	}
	integer := func(p *int, name string, def int, usage string) {
		if v := getenv(envName(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs.add(fmt.Errorf("%s=%q: want a whole number", envName(name), v))
			}
			def = n
		}
		fs.IntVar(p, name, def, usage)
	}
	floating := func(p *float64, name string, def float64, usage string) {
		if v := getenv(envName(name)); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				errs.add(fmt.Errorf("%s=%q: want a number, 0 or more", envName(name), v))
			}
			def = f
		}
		fs.Float64Var(p, name, def, usage)
	}
	duration := func(p *time.Duration, name string, def time.Duration, usage string) {
		if v := getenv(envName(name)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs.add(fmt.Errorf("%s=%q: want a duration such as 30s", envName(name), v))
			}
			def = d
		}
		fs.DurationVar(p, name, def, usage)
	}
	str(&cfg.Listen, "listen", "127.0.0.1:8080", "address to bind `host:port`")
	str(&cfg.MetricsListen, "metrics-listen", "", "serve /metrics (and the probes) on this `host:port` instead of on --listen")
	str(&cfg.Domain, "domain", "localhost:8080", "public `host` of this server, with port if not the default")
	str(&cfg.Protocol, "protocol", "", "public `scheme`: https or http (default http for a localhost or loopback domain, https otherwise)")
	str(&cfg.DatabaseURL, "database-url", DefaultDatabaseURL, "PostgreSQL `url` (postgres://…); empty uses the embedded store, "+DefaultDatabaseFile+" under --data-dir")
	str(&cfg.NATSURL, "nats-url", "", "NATS `url`; empty starts an embedded nats-server with JetStream under --data-dir")
	str(&cfg.Roles, "roles", strings.Join(allRoles(), ","), "`roles` this process runs, comma-separated: any of "+strings.Join(allRoles(), ", "))
	integer(&cfg.StreamReplicas, "stream-replicas", 1, "NATS servers that keep each stream (3 on a cluster survives the loss of one)")
	str(&cfg.NATSPrefix, "nats-prefix", "starling", "`prefix` of stream and subject names, to share a NATS cluster")
	str(&cfg.DataDir, "data-dir", "starling-data", "`directory` for the embedded store and the embedded NATS store")
	str(&cfg.MediaS3Endpoint, "media-s3-endpoint", "", "S3-compatible object store `host:port` for media files (empty: files under --data-dir/media)")
	str(&cfg.MediaS3Bucket, "media-s3-bucket", "", "`bucket` of media files")
	str(&cfg.MediaS3Region, "media-s3-region", "", "`region` of the bucket, if the store wants one")
	str(&cfg.MediaS3AccessKey, "media-s3-access-key", "", "access `key` of the object store")
	str(&cfg.MediaS3SecretKey, "media-s3-secret-key", "", "secret `key` of the object store (better from STARLING_MEDIA_S3_SECRET_KEY)")
	boolean(&cfg.MediaS3Insecure, "media-s3-insecure", false, "reach the object store over plain HTTP")
	str(&cfg.MediaBaseURL, "media-base-url", "", "public `url` media files are fetched from (the bucket's, or a CDN's); required with --media-s3-endpoint")
	boolean(&cfg.AllowPrivateAddresses, "allow-private-addresses", false, "allow fetches and deliveries to loopback and private addresses (local federation tests)")
	str(&cfg.LogLevel, "log-level", "info", "`level`: debug, info, warn or error")
	str(&cfg.LogFormat, "log-format", "text", "`format`: text or json")
	duration(&cfg.AckWait, "queue-ack-wait", 15*time.Second, "how soon a message held by a dead process is delivered again")
	integer(&cfg.QueueMaxAttempts, "queue-max-attempts", queue.DefaultMaxAttempts, "tries of a message whose handler keeps failing before it is recorded as failed and dropped (see the admin deliveries report)")
	integer(&cfg.TimelineWorkers, "timeline-workers", DefaultTimelineWorkers, "timeline events applied at once")
	integer(&cfg.MediaWorkers, "media-workers", DefaultMediaWorkers, "uploaded pictures processed at once")
	integer(&cfg.RemoteMediaDays, "remote-media-days", 0, "show remote pictures through this server, fetched on first view and kept this many `days` (0: clients load them from their servers)")
	floating(&cfg.InboxHostRate, "inbox-host-rate", 100, "activities per second one remote server may deliver (burst 10 s worth; then 429 with Retry-After); 0: no limit")
	integer(&cfg.PostLimit, "post-limit", api.DefaultPostLimit, "statuses an account may post in 3 hours (then 429 with X-RateLimit-* headers)")
	integer(&cfg.InboxWorkers, "inbox-workers", DefaultInboxWorkers, "received activities processed at once")
	integer(&cfg.FanoutWorkers, "fanout-workers", DefaultFanoutWorkers, "outbox events fanned out at once (three quarters of them at most for one activity type)")
	integer(&cfg.DeliveryWorkers, "delivery-workers", DefaultDeliveryWorkers, "deliveries in flight at once, across all hosts (most of them wait on the network)")
	duration(&cfg.DeliveryTimeout, "delivery-timeout", DefaultDeliveryTimeout, "bound of one delivery attempt (dial, TLS, request and answer)")
	duration(&cfg.FetchTimeout, "fetch-timeout", DefaultFetchTimeout, "bound of one fetch of a remote actor, key or object")
	duration(&cfg.HTTPReadTimeout, "http-read-timeout", DefaultHTTPReadTimeout, "bound of reading one request to this server, body included")
	duration(&cfg.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "on SIGTERM, how long each phase of shutdown (consumers finishing in-flight work, then HTTP) may take")
	integer(&cfg.DeliveryPerHost, "delivery-per-host", 4, "deliveries in flight at once to one host")
	str(&cfg.DeliveryRetrySchedule, "delivery-retry-schedule", "30s,1m,2m,5m,10m,20m,40m,80m,160m,5h,8h,12h,12h,12h,12h",
		"delays before each retry of a failed delivery (`list` of durations)")
	integer(&cfg.DeliveryBreakerFails, "delivery-breaker-failures", 5, "consecutive failures that open a host's circuit breaker")
	duration(&cfg.DeliveryBreakerTimeout, "delivery-breaker-timeout", time.Minute, "how long an open breaker holds a host's deliveries before probing")
	integer(&cfg.QueueMaxMessages, "queue-max-messages", 0, "limit every stream to this many messages (0: per-stream defaults, 1M to 10M)")
	integer(&cfg.GCPercent, "gc-percent", DefaultGCPercent, "heap growth between garbage collections, in `percent` of the live heap (Go's GOGC, which wins when set)")
	str(&cfg.CPUProfile, "cpu-profile", "", "write a CPU profile of serve to `file` until shutdown")
	integer(&cfg.UnavailableAfterDays, "unavailable-after-days", 7, "distinct days of failure, with no success, that mark a host unavailable")
	return errs
}

func envName(flagName string) string {
	return "STARLING_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

type envErrors struct{ list []error }

func (e *envErrors) add(err error) { e.list = append(e.list, err) }
func (e *envErrors) err() error    { return errors.Join(e.list...) }

// defaultProtocol is the scheme a server on domain is reached with when
// none is set: plain HTTP on this machine (nothing there serves TLS), and
// HTTPS anywhere else, behind the proxy that terminates it.
func defaultProtocol(domain string) string {
	host := domain
	if h, _, err := net.SplitHostPort(domain); err == nil {
		host = h
	}
	host = strings.Trim(strings.ToLower(host), "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "http"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "http"
	}
	return "https"
}

// validate reports every bad setting at once.
func (cfg *Config) validate() error {
	var errs []error
	if cfg.Protocol == "" {
		cfg.Protocol = defaultProtocol(cfg.Domain)
	}
	if _, err := parseRoles(cfg.Roles); err != nil {
		errs = append(errs, err)
	}
	if cfg.StreamReplicas < 1 || cfg.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("--stream-replicas %d: want 1 to 5 (JetStream's limit)", cfg.StreamReplicas))
	}
	if cfg.InboxHostRate < 0 {
		errs = append(errs, fmt.Errorf("--inbox-host-rate %v: want 0 or more", cfg.InboxHostRate))
	}
	if cfg.MediaS3Endpoint != "" && (cfg.MediaS3Bucket == "" || cfg.MediaBaseURL == "") {
		errs = append(errs, fmt.Errorf("--media-s3-endpoint %q: also set --media-s3-bucket and --media-base-url", cfg.MediaS3Endpoint))
	}
	if cfg.MediaBaseURL != "" && !strings.HasPrefix(cfg.MediaBaseURL, "https://") && !strings.HasPrefix(cfg.MediaBaseURL, "http://") {
		errs = append(errs, fmt.Errorf("--media-base-url %q: want an http(s) URL", cfg.MediaBaseURL))
	}
	if cfg.Protocol != "https" && cfg.Protocol != "http" {
		errs = append(errs, fmt.Errorf("--protocol %q: want https or http", cfg.Protocol))
	}
	if cfg.Domain == "" || strings.ContainsAny(cfg.Domain, "/ ?#@") {
		errs = append(errs, fmt.Errorf("--domain %q: want a host such as social.example or 127.0.0.1:8081, without scheme or path", cfg.Domain))
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: want host:port", cfg.Listen))
	}
	if _, err := parseDatabaseURL(cfg.DatabaseURL, cfg.DataDir); err != nil {
		errs = append(errs, err)
	}
	if cfg.DatabaseURL == "" && cfg.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required for the embedded store (or set --database-url)"))
	}
	if cfg.NATSURL == "" && cfg.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required for the embedded NATS server"))
	}
	switch cfg.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", cfg.LogFormat))
	}
	if cfg.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("--queue-ack-wait %s: want at least 1s", cfg.AckWait))
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"delivery-workers", cfg.DeliveryWorkers}, {"delivery-per-host", cfg.DeliveryPerHost},
		{"timeline-workers", cfg.TimelineWorkers}, {"media-workers", cfg.MediaWorkers}, {"post-limit", cfg.PostLimit}, {"inbox-workers", cfg.InboxWorkers}, {"fanout-workers", cfg.FanoutWorkers},
		{"delivery-breaker-failures", cfg.DeliveryBreakerFails}, {"unavailable-after-days", cfg.UnavailableAfterDays},
		{"gc-percent", cfg.GCPercent}} {
		if v.n < 1 {
			errs = append(errs, fmt.Errorf("--%s %d: want at least 1", v.name, v.n))
		}
	}
	if cfg.RemoteMediaDays < 0 {
		errs = append(errs, fmt.Errorf("--remote-media-days %d: want 0 (off) or more", cfg.RemoteMediaDays))
	}
	if _, err := fanout.ParseSchedule(cfg.DeliveryRetrySchedule); err != nil {
		errs = append(errs, fmt.Errorf("--delivery-retry-schedule: %w", err))
	}
	for _, v := range []struct {
		name string
		d    time.Duration
	}{{"delivery-timeout", cfg.DeliveryTimeout}, {"fetch-timeout", cfg.FetchTimeout},
		{"http-read-timeout", cfg.HTTPReadTimeout}, {"shutdown-timeout", cfg.ShutdownTimeout}} {
		if v.d < time.Second {
			errs = append(errs, fmt.Errorf("--%s %s: want at least 1s", v.name, v.d))
		}
	}
	if cfg.DeliveryBreakerTimeout < time.Second/10 {
		errs = append(errs, fmt.Errorf("--delivery-breaker-timeout %s: want at least 100ms", cfg.DeliveryBreakerTimeout))
	}
	return errors.Join(errs...)
}

func (cfg *Config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	return l, nil
}

// The roles of serve. The relay and the stream monitor run in every
// process, whatever its roles: any number of them may run.
const (
	// RoleAPI is the HTTP server: the client API, the pages, the inbox
	// endpoint (verifying and storing what remotes send) and streaming.
	RoleAPI = "api"
	// RoleInbox processes received activities (the inbox consumer).
	RoleInbox = "inbox"
	// RoleFanout turns outbox events into deliveries and delivers them
	// (the fanout and delivery consumers, and their loops).
	RoleFanout = "fanout"
	// RoleTimeline builds home feeds (the timeline consumer and the feed
	// trimmer).
	RoleTimeline = "timeline"
)

// allRoles returns every role, in the order they are listed.
func allRoles() []string { return []string{RoleAPI, RoleInbox, RoleFanout, RoleTimeline} }

// roles is the set of roles one process runs.
type roles map[string]bool

// parseRoles parses --roles: a comma-separated subset of allRoles; empty
// is all of them. An unknown role is an error naming it.
func parseRoles(s string) (roles, error) {
	r := roles{}
	if strings.TrimSpace(s) == "" {
		for _, name := range allRoles() {
			r[name] = true
		}
		return r, nil
	}
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if !slices.Contains(allRoles(), name) {
			return nil, fmt.Errorf("--roles: unknown role %q: want any of %s", name, strings.Join(allRoles(), ", "))
		}
		r[name] = true
	}
	return r, nil
}

// String lists the roles in their usual order.
func (r roles) String() string {
	var names []string
	for _, name := range allRoles() {
		if r[name] {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}
