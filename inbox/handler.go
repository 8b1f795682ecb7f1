// Package inbox receives activities from other servers. The HTTP handler
// verifies each request's signature, refuses what cannot be stored (NUL,
// invalid UTF-8), stores the activity once (unique on its id) with an
// event, and answers 202; the processor then applies the activity
// (statuses, follows, deletes) off the inbox stream, at its own pace and
// idempotently. Whatever a remote sends is cleaned (sanitize) before it is
// stored, and whatever only a third party vouches for (a forward, a boost
// of an unknown post, a reply's parent) is fetched from its origin.
package inbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/signature"
)

// ReceiveStore is what the HTTP side of the inbox needs of the store.
type ReceiveStore interface {
	InsertInboxActivity(ctx context.Context, a *starling.InboxActivity, events ...starling.Event) (bool, error)
}

// Handler serves personal inboxes and the shared inbox.
type Handler struct {
	Store    ReceiveStore
	Keys     signature.KeyLookup
	Topology queue.Topology
	Logger   *slog.Logger
	Now      func() time.Time // default time.Now
	Metrics  *Metrics
	// Standards, when set, learns which signature standard each remote
	// signs with (federation.Knocker), so replies use it.
	Standards StandardLearner
	// Pressure, when set, makes the inbox answer 503 with Retry-After
	// while the queues are near their limits, before any work is done;
	// remote servers retry later, as they do for any 5xx.
	Pressure Pressure
	// Limits, when set, caps each sending server's rate (admission.go).
	Limits *HostLimits
	// Gate, when set, refuses hosts an admin suspended.
	Gate HostGate
	// Ready, when set, is this process's readiness check (the store and
	// NATS answer). It is asked only when a request fails in a way an
	// outage explains (a key that could not be looked up): then the
	// answer is 503 with Retry-After, which the sender retries, instead
	// of a 401 blaming its signature.
	Ready func(ctx context.Context) error
	// Proofs, when set, finds the keys of Object Integrity Proofs
	// (FEP-8b32): an activity another server passes on is taken as its
	// actor's own when it carries the actor's proof.
	Proofs signature.Ed25519KeyLookup
}

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 while
// the store cannot be reached: a restart or a failover takes seconds.
const unavailableRetryAfter = "10"

// HostGate says whether an admin suspended a host.
type HostGate interface {
	Suspended(ctx context.Context, host string) bool
}

// StandardLearner records that a host signs with (so accepts) a signature
// standard.
type StandardLearner interface {
	Learn(ctx context.Context, host string, std signature.Standard)
}

// ServeHTTP accepts a signed POST of one activity.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "inboxes accept POST")
		return
	}
	if h.Pressure != nil {
		if over, why := h.Pressure.Pressure(); over {
			h.Metrics.received("overloaded")
			w.Header().Set("Retry-After", "30")
			writeError(w, http.StatusServiceUnavailable, "overloaded, try again later: "+why)
			return
		}
	}
	outcome, status, msg := h.receive(r)
	h.Metrics.received(outcome)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", msg)
		writeError(w, status, "too many activities from your server; try again after "+msg+" s")
		return
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", unavailableRetryAfter)
	}
	if status >= 400 {
		writeError(w, status, msg)
		return
	}
	// Ask for RFC 9421 with Ed25519 from now on: a Knocker learns it
	// from this answer (signature.AcceptedStandard).
	w.Header().Set("Accept-Signature", signature.AcceptSignatureEd25519)
	w.WriteHeader(status)
}

func (h *Handler) receive(r *http.Request) (outcome string, status int, msg string) {
	ctx := r.Context()
	// The API's middleware has read the trace (and started the request's
	// span) already; mounted on its own, the handler reads it itself.
	tr := queue.TraceFrom(ctx)
	if tr.CorrelationID == "" {
		tr = queue.TraceFromHTTP(r.Header)
		ctx = queue.WithTrace(ctx, tr)
	}
	log := h.Logger.With("correlation_id", tr.CorrelationID, "remote", r.RemoteAddr)

	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, federation.MaxDocumentSize))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return "too_large", http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", federation.MaxDocumentSize)
	}
	if err != nil {
		return "bad_request", http.StatusBadRequest, "could not read body"
	}
	if err := activitypub.CheckDepth(body, activitypub.MaxDepth); err != nil {
		return "bad_request", http.StatusBadRequest, err.Error()
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	v, err := signature.VerifyRequest(ctx, r, body, now(), h.Keys)
	if err != nil {
		var se *signature.SignatureError
		reason := "signature does not verify"
		if errors.As(err, &se) {
			reason = se.Reason
		}
		if h.down(ctx) {
			log.Warn("could not verify an inbox request while the store or NATS is unreachable; asked to retry", "error", err)
			return "unavailable", http.StatusServiceUnavailable, "could not verify the signature now; try again later"
		}
		log.Info("rejected inbox request", "reason", reason, "error", err)
		return "unauthorized", http.StatusUnauthorized, reason
	}
	// A suspended domain is refused once we know who signed: 403, which
	// Mastodon and others treat as final and stop retrying.
	if h.Gate != nil {
		if u, err := url.Parse(v.Owner); err == nil && h.Gate.Suspended(ctx, strings.ToLower(u.Host)) {
			log.Info("rejected inbox request", "reason", "domain suspended", "key_owner", v.Owner)
			return "suspended", http.StatusForbidden, "this domain is suspended here"
		}
	}
	// The sender's rate is its verified key owner's host's, so no one can
	// spend another server's allowance.
	if ok, wait := h.Limits.allow(senderHost(v.Owner), now()); !ok {
		log.Info("rate-limited inbox request", "host", senderHost(v.Owner), "wait", wait)
		return "rate_limited", http.StatusTooManyRequests, strconv.Itoa(int(max(wait.Seconds(), 1)))
	}
	// Text PostgreSQL cannot store (NUL, invalid UTF-8) is refused here, at
	// the edge: accepted, it would fail in the processor on every retry.
	if reason := unstorableText(body); reason != "" {
		log.Info("rejected inbox request", "reason", reason)
		return "bad_request", http.StatusBadRequest, reason
	}
	// Malformed activities are refused here, before anything is stored, so
	// the sender learns why and the processor never sees them.
	act, err := activitypub.DecodeActivity(body)
	if err != nil {
		log.Info("rejected inbox request", "reason", "malformed activity", "error", err)
		return "bad_request", http.StatusBadRequest, err.Error()
	}
	if !activitypub.SameHost(act.ID, act.Actor.ID) {
		return "bad_request", http.StatusBadRequest, "activity id is not on its actor's host"
	}
	// The signature vouches for its key's owner only: another actor, even
	// of the same host, is not speaking. An activity signed by someone
	// else is a forward (ActivityPub 7.1.2: the parent's server passing on
	// a reply to its followers) and is trusted only in what its origin
	// serves: a Create or Update of an object is stored, marked, and the
	// processor fetches the object and uses that copy (as Mastodon does
	// for a forward it cannot verify). Other types are answered 202 and
	// dropped, as Mastodon does (its inbox answers 202 and
	// ProcessCollectionService drops a forward without a Linked Data
	// signature): the forwarder did nothing wrong, and a 4xx would make
	// it retry or count us as broken.
	var forwardedBy string
	uri := act.ID
	// speaker is who vouches for the activity: the key owner, or the
	// actor itself when the activity carries the actor's Ed25519 proof,
	// which vouches for every byte of it as its own signature would,
	// whoever delivered it (FEP-8b32). The sender stays the key owner.
	speaker := v.Owner
	if speaker != act.Actor.ID && h.Proofs != nil {
		pv, err := signature.VerifyObjectProof(ctx, body, h.Proofs)
		switch {
		case err == nil && pv.Controller == act.Actor.ID:
			log.Debug("forwarded activity carries its actor's proof", "key_owner", v.Owner, "actor", act.Actor.ID, "activity", act.ID)
			speaker = act.Actor.ID
		case err != nil && !errors.Is(err, signature.ErrNoProof):
			log.Info("forwarded activity's proof does not verify", "key_owner", v.Owner, "actor", act.Actor.ID, "error", err)
		}
	}
	if speaker != act.Actor.ID {
		if !forwardable(act) {
			log.Info("dropped forwarded activity", "key_owner", v.Owner, "actor", act.Actor.ID, "type", act.Type, "activity", act.ID)
			return "forward_dropped", http.StatusAccepted, ""
		}
		forwardedBy = v.Owner
		// Stored under its own name: a forward must not take the id of
		// the actor's own delivery, which would then be dropped as a
		// duplicate (a forger could so silence a post before it exists).
		uri = ForwardedURI(act.ID, v.Owner)
	}
	if h.Standards != nil && v.Standard == signature.StandardRFC9421 {
		// The key owner's host, as addressed by URL (with its port).
		// Signed with an Ed25519 key: it verifies those too.
		std := v.Standard
		if v.Ed25519 {
			std = signature.StandardRFC9421Ed25519
		}
		if u, err := url.Parse(v.Owner); err == nil && u.Host != "" {
			h.Standards.Learn(ctx, u.Host, std)
		}
	}
	id := starling.NewID(now())
	ev, err := json.Marshal(queue.InboxEvent{InboxActivityID: id})
	if err != nil {
		return "error", http.StatusInternalServerError, "internal error"
	}
	inserted, err := h.Store.InsertInboxActivity(ctx, &starling.InboxActivity{
		ID: id, URI: uri, Type: act.Type, ActorURI: act.Actor.ID, Payload: body, ForwardedBy: forwardedBy,
	}, starling.Event{
		MsgID: "inbox-" + strconv.FormatInt(id, 10),
		// By sending host: the processor's consumer shares its workers out
		// by it, so one server's flood or slow activities wait behind each
		// other, not in front of everyone else's.
		Subject: h.Topology.InboxSubject(senderHost(v.Owner)),
		Payload: ev,
		Headers: tr.Headers(),
	})
	if err != nil {
		log.Error("store inbox activity", "error", err, "activity", act.ID)
		return "error", http.StatusServiceUnavailable, "could not store the activity; try again later"
	}
	if !inserted {
		log.Debug("duplicate activity", "activity", act.ID)
		return "duplicate", http.StatusAccepted, ""
	}
	log.Debug("accepted activity", "activity", act.ID, "type", act.Type, "signature", v.Standard, "key_owner", v.Owner)
	return "accepted", http.StatusAccepted, ""
}

// ForwardedURI is the name a forwarded activity id is stored under when
// forwarder delivered it: apart from the actor's own delivery of it, and
// once per forwarder.
func ForwardedURI(id, forwarder string) string {
	return id + "#forwarded-by=" + forwarder
}

// forwardable reports whether a forwarded activity is kept: a Create or
// Update of an object the processor can fetch from its origin.
func forwardable(act *activitypub.Activity) bool {
	return (act.Type == "Create" || act.Type == "Update") && act.Object.ID != ""
}

// unstorableText returns why body holds text no store can keep, or "" when
// it holds none: invalid UTF-8, a raw NUL, or a \u0000 escape, which
// encoding/json decodes into a NUL in the string.
func unstorableText(body []byte) string {
	if !utf8.Valid(body) {
		return "body is not valid UTF-8"
	}
	if bytes.IndexByte(body, 0) >= 0 {
		return "body holds a NUL byte"
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' || i+1 >= len(body) {
			continue
		}
		// An escape: \\ is a backslash (skip both, so \\u0000 is text),
		// \u0000 is a NUL.
		if body[i+1] == 'u' && i+6 <= len(body) && string(body[i+2:i+6]) == "0000" {
			return "text holds a NUL character (\\u0000)"
		}
		i++
	}
	return ""
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

var _ http.Handler = (*Handler)(nil)

// senderHost is the host of the signing key's owner, which sent the request.
func senderHost(owner string) string {
	host, err := activitypub.HostOf(owner)
	if err != nil {
		return "unknown"
	}
	return host
}

// down reports whether the readiness check fails, within a second.
func (h *Handler) down(ctx context.Context) bool {
	if h.Ready == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	return h.Ready(ctx) != nil
}
