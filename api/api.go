// Package api serves people and other servers over HTTP: the Mastodon
// client API, the read side of federation (WebFinger, actors, collections,
// objects), and the admin operations the CLI calls. It maps every error to
// an HTTP status once, here at the edge.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/outbox"
	"github.com/starling-social/starling/queue"
)

// Store is what the API reads and the few things it writes (accounts, tokens).
type Store interface {
	AccountByID(ctx context.Context, id int64) (*starling.Account, error)
	AccountByAcct(ctx context.Context, username, domain string) (*starling.Account, error)
	AccountByToken(ctx context.Context, tokenSHA256 []byte) (*starling.Account, string, error)
	AccountStats(ctx context.Context, id int64) (starling.AccountStats, error)
	StatusByID(ctx context.Context, id int64) (*starling.Status, error)
	Relationships(ctx context.Context, viewer int64, ids []int64) ([]starling.Relationship, error)
	FollowCollection(ctx context.Context, accountID int64, followers bool, limit int) ([]string, error)
	CreateLocalAccount(ctx context.Context, a *starling.Account, email, passwordHash string) error
	CreateAccessToken(ctx context.Context, tokenSHA256 []byte, accountID int64, scopes string) error
	// Who may see a deleted status (streaming.go).
	StatusReach(ctx context.Context, id int64) (accountID int64, visibility string, err error)
	FollowersAmong(ctx context.Context, accountID int64, ids []int64) ([]int64, error)
	StatusMentionIDs(ctx context.Context, statusID int64) ([]int64, error)
	// Edits (statuses.go).
	StatusEdits(ctx context.Context, statusID int64) ([]starling.StatusEdit, error)
	StatusSource(ctx context.Context, id int64) (text, spoiler string, err error)
	TimelineStore     // timelines.go
	OAuthStore        // oauth.go
	ClientStore       // client.go
	ProfileStore      // profile.go
	ConversationStore // conversations.go
	MediaStore        // media.go
	PostLimitStore    // ratelimit.go
}

// Outbox performs what local people do.
type Outbox interface {
	CreateStatus(ctx context.Context, author *starling.Account, p outbox.NewStatus) (*starling.Status, error)
	DeleteStatus(ctx context.Context, author *starling.Account, id int64) (*starling.Status, error)
	EditStatus(ctx context.Context, author *starling.Account, id int64, p outbox.EditedStatus) (*starling.Status, error)
	Follow(ctx context.Context, follower, followee *starling.Account) (*starling.Follow, error)
	Unfollow(ctx context.Context, follower, followee *starling.Account) error
	UpdateProfile(ctx context.Context, a *starling.Account, p outbox.Profile) (*starling.Account, error)
	Report(ctx context.Context, reporter *starling.Account, p outbox.NewReport) (*starling.Report, error)
}

// Resolver finds remote accounts.
type Resolver interface {
	WebFinger(ctx context.Context, username, host string) (*starling.Account, error)
}

// Pressure says whether the queues are too full to take new work, and why.
type Pressure interface {
	Pressure() (overloaded bool, reason string)
}

// Roles says whether an account has the admin role.
type Roles interface {
	IsAdmin(ctx context.Context, accountID int64) (bool, error)
}

// DeliveryReporter builds the admin view of deliveries.
type DeliveryReporter interface {
	DeliveryReport(ctx context.Context) (any, error)
}

// Server holds the API's dependencies. Its zero value is not usable; set
// every field but Logger.
type Server struct {
	Store    Store
	Outbox   Outbox
	Resolver Resolver
	Site     federation.Site
	Inbox    http.Handler // mounted at /inbox and /users/{username}/inbox
	Metrics  http.Handler // mounted at /metrics when set
	// RemoteMedia, when set, shows remote pictures through this server
	// (--remote-media-days); nil shows them by their remote URLs.
	RemoteMedia *RemoteMedia
	// Tracer, when set, gives every request a span, continuing the
	// caller's W3C traceparent (a remote server's delivery attempt).
	Tracer trace.TracerProvider
	// Pressure, when set, makes write endpoints answer 503 with
	// Retry-After while the queues are backed up.
	Pressure   Pressure
	Deliveries DeliveryReporter
	Operator   Operator // admin_operator.go; nil: those routes answer 404
	// Roles, when set, lets only accounts with the admin role use admin:*
	// scopes (serve sets it; without it the scope alone decides).
	Roles   Roles
	Logger  *slog.Logger
	Version string

	Interactions Interactions // boosts, favourites, blocks, mutes (interactions.go)
	Streaming    *Streaming   // nil: streaming answers 503 (streaming.go)
	Media        *Media       // nil: uploads answer 503 (media.go)
	// PostLimit is how many statuses an account may post in 3 hours;
	// default DefaultPostLimit, Mastodon's (ratelimit.go).
	PostLimit int
	// Ready checks the store and the queue for /healthz; nil: always ready.
	Ready        func(ctx context.Context) error
	accountCache accountCache
	tokens       tokenCache
	rendered     renderCache
	logins       loginLimiter // oauth_pages.go
	filters      filterCache  // filter_apply.go
	anonymous    ipLimiter    // ratelimit.go
}

// Handler returns the router for everything Starling serves over HTTP.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.trace, s.recoverer, cors)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "Record not found") })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
	})

	// Federation.
	r.Get("/.well-known/webfinger", s.webfinger)
	r.Get("/.well-known/host-meta", s.hostMeta)
	r.Get("/.well-known/nodeinfo", s.nodeinfoIndex)
	r.Get("/nodeinfo/2.1", s.nodeinfo)
	r.Get("/actor", s.instanceActor)
	r.Get("/actor"+federation.Ed25519KeyPath, s.instanceEd25519Key)
	r.Get("/users/{username}", s.actor)
	r.Get("/users/{username}"+federation.Ed25519KeyPath, s.ed25519Key)
	r.Get("/users/{username}/outbox", s.outboxCollection)
	r.Get("/users/{username}/followers", s.followers)
	r.Get("/users/{username}/following", s.following)
	r.Get("/users/{username}/statuses/{id}", s.statusObject)
	r.Get("/users/{username}/statuses/{id}/activity", s.statusObject)
	if s.Inbox != nil {
		r.Handle("/inbox", s.Inbox)
		r.Handle("/users/{username}/inbox", s.Inbox)
		r.Handle("/actor/inbox", s.Inbox)
	}
	if s.Metrics != nil {
		r.Handle("/metrics", s.Metrics)
	}
	r.Get(thumbnailPath, s.thumbnail)
	r.Get(missingAvatarPath, servePNG(defaultAvatar))
	r.Get(missingHeaderPath, servePNG(defaultHeader))
	r.Get("/system/remote/*", s.serveRemoteMedia) // remote_media.go
	r.Get("/system/*", s.serveMedia)              // media.go
	r.Get("/admin", s.adminPage)                  // admin_page.go
	r.Get("/admin/trace", s.adminTracePage)
	r.Get("/admin/admin.js", s.adminScript)
	r.Get("/admin/hosts/{host}", s.adminHostPage)
	r.Post("/admin/hosts/{host}/{action}", s.adminPageAction)
	r.Get("/@{username}", s.profilePage) // public_pages.go
	r.Get("/@{username}/{id}", s.statusPage)
	s.probeRoutes(r)

	s.oauthRoutes(r) // oauth.go

	// Mastodon client API.
	r.Route("/api", func(r chi.Router) {
		r.Use(saneURL, s.anonymousLimit)
		r.Get("/v1/instance", s.instanceV1)
		r.Get("/v2/instance", s.instanceV2) // instance.go
		r.Get("/v1/custom_emojis", s.customEmojis)
		publicEmptyRoutes(r) // empty.go
		// Streaming authenticates itself: the token may come in Sec-WebSocket-Protocol (streaming.go).
		r.Get("/v1/streaming", s.websocket)
		r.Get("/v1/streaming/health", s.streamingHealth)
		for _, name := range []string{"user", "user/notification", "public", "public/local", "public/remote",
			"hashtag", "hashtag/local", "list"} {
			r.Get("/v1/streaming/"+name, s.sse(strings.ReplaceAll(name, "/", ":")))
		}
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			r.Get("/v1/accounts/verify_credentials", s.scoped("profile", s.verifyCredentials))
			r.With(s.backpressure).Patch("/v1/accounts/update_credentials", s.scoped("write:accounts", s.updateCredentials))
			r.Get("/v1/accounts/lookup", s.scoped("read:accounts", s.lookupAccount))
			r.Get("/v1/accounts/relationships", s.scoped("read:follows", s.relationships))
			r.Get("/v1/accounts/{id}", s.scoped("read:accounts", s.getAccount))
			r.With(s.backpressure).Post("/v1/accounts/{id}/follow", s.scoped("write:follows", s.follow))
			r.With(s.backpressure).Post("/v1/accounts/{id}/unfollow", s.scoped("write:follows", s.unfollow))
			r.With(s.backpressure).Post("/v1/statuses", s.scoped("write:statuses", s.postStatus))
			r.Get("/v1/statuses/{id}", s.scoped("read:statuses", s.getStatus))
			r.With(s.backpressure).Delete("/v1/statuses/{id}", s.scoped("write:statuses", s.deleteStatus))
			r.With(s.backpressure).Put("/v1/statuses/{id}", s.scoped("write:statuses", s.editStatus))
			r.Get("/v1/statuses/{id}/history", s.scoped("read:statuses", s.statusHistory))
			r.Get("/v1/statuses/{id}/source", s.scoped("read:statuses", s.statusSource))
			r.Get("/v1/admin/deliveries", s.scoped("admin:read", s.adminDeliveries))
			s.operatorRoutes(r)
			// Interactions, notification changes (interactions.go, notifications.go).
			r.Post("/v1/notifications/clear", s.scoped("write:notifications", s.clearNotifications))
			r.Get("/v1/notifications/unread_count", s.scoped("read:notifications", s.unreadCount))
			r.Get("/v2/notifications/unread_count", s.scoped("read:notifications", s.unreadCount))
			r.Get("/v1/notifications/{id}", s.scoped("read:notifications", s.getNotification))
			r.Post("/v1/notifications/{id}/dismiss", s.scoped("write:notifications", s.dismissNotification))
			r.With(s.backpressure).Post("/v1/statuses/{id}/reblog", s.scoped("write:statuses", s.reblog))
			r.Post("/v1/statuses/{id}/unreblog", s.scoped("write:statuses", s.statusAction(Interactions.Unreblog)))
			r.Post("/v1/statuses/{id}/favourite", s.scoped("write:favourites", s.statusAction(Interactions.Favourite)))
			r.Post("/v1/statuses/{id}/unfavourite", s.scoped("write:favourites", s.statusAction(Interactions.Unfavourite)))
			r.Post("/v1/accounts/{id}/block", s.scoped("write:blocks", s.accountAction(Interactions.Block)))
			r.Post("/v1/accounts/{id}/unblock", s.scoped("write:blocks", s.accountAction(Interactions.Unblock)))
			r.Post("/v1/accounts/{id}/mute", s.scoped("write:mutes", s.accountAction(Interactions.Mute)))
			r.Post("/v1/accounts/{id}/unmute", s.scoped("write:mutes", s.accountAction(Interactions.Unmute)))
			r.Get("/v1/domain_blocks", s.scoped("read:blocks", s.domainBlocks))
			r.Post("/v1/domain_blocks", s.scoped("write:blocks", s.changeDomainBlock(true)))
			r.Delete("/v1/domain_blocks", s.scoped("write:blocks", s.changeDomainBlock(false)))
			r.Get("/v2/search", s.scoped("read:search", s.search))
			r.Get("/v1/search", s.scoped("read:search", s.search)) // old clients; answered as v2
			r.Post("/v1/reports", s.scoped("write:reports", s.createReport))
			s.clientRoutes(r) // client.go
		})
		// The hot read paths, with a short token cache (timelines.go, authcache.go).
		r.Group(func(r chi.Router) {
			r.Use(s.authenticateCached)
			r.Get("/v1/timelines/home", s.scoped("read:statuses", s.homeTimeline))
			r.Get("/v1/timelines/public", s.optional("read:statuses", filtering(starling.FilterPublic, s.publicTimeline)))
			r.Get("/v1/timelines/tag/{hashtag}", s.optional("read:statuses", filtering(starling.FilterPublic, s.tagTimeline)))
			r.Get("/v1/accounts/{id}/statuses", s.optional("read:statuses", filtering(starling.FilterAccount, s.accountStatuses)))
			r.Get("/v1/notifications", s.scoped("read:notifications", s.notifications))
			r.Get("/v2/notifications", s.scoped("read:notifications", s.groupedNotifications))
		})
	})
	return r
}

// trace gives every request a correlation id (the caller's X-Request-Id,
// or a new one), echoes it, and logs the request.
func (s *Server) trace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr := queue.TraceFromHTTP(r.Header)
		w.Header().Set(queue.HeaderRequestID, tr.CorrelationID)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		ctx, span := queue.StartSpan(queue.WithTrace(r.Context(), tr), s.Tracer, r.Method, trace.SpanKindServer)
		next.ServeHTTP(sw, r.WithContext(ctx))
		if span.IsRecording() { // off by default: nothing to build per request
			span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
				attribute.Int("http.response.status_code", sw.status))
			if rc := chi.RouteContext(ctx); rc != nil && rc.RoutePattern() != "" {
				span.SetName(r.Method + " " + rc.RoutePattern()) // low cardinality, as OpenTelemetry asks
				span.SetAttributes(attribute.String("http.route", rc.RoutePattern()))
			}
			if sw.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(sw.status))
			}
			span.End()
		}
		s.Logger.Debug("http", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"duration", time.Since(start), "correlation_id", tr.CorrelationID)
	})
}

// saneURL refuses a path or query that is not valid text (NUL, invalid
// UTF-8) before any handler passes it to the store: such a path names no
// record (404), such a query parameter is the client's mistake (400).
// Bodies are checked by params.
func saneURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !validText(r.URL.Path) {
			writeError(w, http.StatusNotFound, "Record not found")
			return
		}
		if err := checkValues(r.URL.Query()); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// backpressure refuses new work while the queues are backed up: better a
// quick 503 the client retries than a post accepted into a queue that
// cannot take it. Clients (and Mastodon apps) retry on Retry-After.
func (s *Server) backpressure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Pressure != nil {
			if over, why := s.Pressure.Pressure(); over {
				w.Header().Set("Retry-After", "30")
				writeError(w, http.StatusServiceUnavailable, "This server is behind on its work ("+why+"); try again in a little while")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) adminDeliveries(w http.ResponseWriter, r *http.Request, _ *starling.Account) {
	if s.Deliveries == nil {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	rep, err := s.Deliveries.DeliveryReport(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Logger.Error("panic serving request", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, "Internal server error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeActivity(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", activitypub.ContentType+"; charset=utf-8")
	w.Header().Set("Vary", "Accept")
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes a Mastodon-style error.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// fail maps an error from below to a client answer, once: the error's
// code (starling.ErrorCode) says the status, and only an *starling.Error's
// message reaches the client; anything else is logged and answered 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nothing to answer
	}
	if s.unavailable(r.Context(), err) {
		// The store or the queue cannot be reached (or answered too
		// late): nothing was done; the client should come back.
		s.Logger.Warn("request failed: a store or queue is unreachable", "path", r.URL.Path, "error", err,
			"correlation_id", queue.TraceFrom(r.Context()).CorrelationID)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "The service is temporarily unavailable; try again shortly")
		return
	}
	switch code := starling.ErrorCode(err); code {
	case starling.ENOTFOUND:
		writeError(w, http.StatusNotFound, "Record not found")
	case starling.ECONFLICT:
		writeError(w, http.StatusConflict, "Already exists")
	case starling.EINVALID:
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+starling.ErrorMessage(err))
	case starling.EINTERNAL:
		s.Logger.Error("request failed", "path", r.URL.Path, "error", err,
			"correlation_id", queue.TraceFrom(r.Context()).CorrelationID)
		writeError(w, http.StatusInternalServerError, "Internal server error")
	default:
		status, ok := errorStatus[code]
		if !ok {
			status = http.StatusInternalServerError
		}
		writeError(w, status, starling.ErrorMessage(err))
	}
}

// unavailable reports whether err says the store or the queue could not
// be reached: the EUNAVAILABLE code, or a network-level failure (refused,
// reset, cut off, too late) while the readiness check fails too, so that
// a remote server's failure is not taken for ours.
func (s *Server) unavailable(ctx context.Context, err error) bool {
	if starling.ErrorCode(err) == starling.EUNAVAILABLE {
		return true
	}
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &ne) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	if s.Ready == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	return s.Ready(ctx) != nil
}

// probeRoutes are the routes a load balancer, Kubernetes or Prometheus
// asks every process, whatever its roles: /healthz and /readyz
// (readiness, the same check), /livez, and /metrics when set.
func (s *Server) probeRoutes(r chi.Router) {
	r.Get("/healthz", s.readiness)
	r.Get("/readyz", s.readiness)
	r.Get("/livez", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// ProbeHandler serves only the probes and /metrics: a process that runs
// no api role (a fanout or timeline worker) still answers its readiness
// and liveness probes and is scraped. It uses Ready and Metrics only.
func (s *Server) ProbeHandler() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "Record not found") })
	s.probeRoutes(r)
	if s.Metrics != nil {
		r.Handle("/metrics", s.Metrics)
	}
	return r
}

// readiness is /healthz and /readyz: 200 while the store and the queue answer, 503
// with the reason otherwise, so a load balancer or Kubernetes stops
// sending requests this process cannot serve. /livez only says the
// process runs.
func (s *Server) readiness(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// errorStatus is the HTTP status of each error code fail does not answer
// with a fixed text.
var errorStatus = map[string]int{
	starling.EUNAUTHORIZED:   http.StatusUnauthorized,
	starling.ENOTIMPLEMENTED: http.StatusNotImplemented,
}
