// Package inbox receives activities from other servers. The HTTP handler
// verifies each request's signature, stores the activity once (unique on
// its id) with an event, and answers 202; the processor then applies the
// activity (statuses, follows, deletes) off the inbox stream, at its own
// pace and idempotently.
package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/store"
)

// ReceiveStore is what the HTTP side of the inbox needs of the store.
type ReceiveStore interface {
	InsertInboxActivity(ctx context.Context, a *store.InboxActivity, events ...store.Event) (bool, error)
}

// Handler serves personal inboxes and the shared inbox.
type Handler struct {
	Store    ReceiveStore
	Keys     activitypub.KeyLookup
	Topology queue.Topology
	Logger   *slog.Logger
	Now      func() time.Time // default time.Now
	Metrics  *Metrics
	// Standards, when set, learns which signature standard each remote
	// signs with (activitypub.Knocker), so replies use it.
	Standards StandardLearner
}

// StandardLearner records that a host signs with (so accepts) a signature
// standard.
type StandardLearner interface {
	Learn(ctx context.Context, host string, std activitypub.Standard)
}

// ServeHTTP accepts a signed POST of one activity.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "inboxes accept POST")
		return
	}
	outcome, status, msg := h.receive(r)
	h.Metrics.received(outcome)
	if status >= 400 {
		writeError(w, status, msg)
		return
	}
	w.WriteHeader(status)
}

func (h *Handler) receive(r *http.Request) (outcome string, status int, msg string) {
	ctx := r.Context()
	tr := queue.TraceFromHTTP(r.Header)
	ctx = queue.WithTrace(ctx, tr)
	log := h.Logger.With("correlation_id", tr.CorrelationID, "remote", r.RemoteAddr)

	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, activitypub.MaxDocumentSize))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return "too_large", http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", activitypub.MaxDocumentSize)
	}
	if err != nil {
		return "bad_request", http.StatusBadRequest, "could not read body"
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	v, err := activitypub.VerifyRequest(ctx, r, body, now(), h.Keys)
	if err != nil {
		var se *activitypub.SignatureError
		reason := "signature does not verify"
		if errors.As(err, &se) {
			reason = se.Reason
		}
		log.Info("rejected inbox request", "reason", reason, "error", err)
		return "unauthorized", http.StatusUnauthorized, reason
	}
	// Malformed activities are refused here, before anything is stored, so
	// the sender learns why and the processor never sees them.
	act, err := activitypub.DecodeActivity(body)
	if err != nil {
		log.Info("rejected inbox request", "reason", "malformed activity", "error", err)
		return "bad_request", http.StatusBadRequest, err.Error()
	}
	// The signer may speak only for actors on its own host: a key on
	// server A must not deliver activities by actors of server B.
	if !activitypub.SameHost(v.Owner, act.Actor.ID) {
		log.Info("rejected inbox request", "reason", "actor on another host than the key", "key_owner", v.Owner, "actor", act.Actor.ID)
		return "unauthorized", http.StatusUnauthorized, "signing key does not belong to the activity's actor's host"
	}
	if !activitypub.SameHost(act.ID, act.Actor.ID) {
		return "bad_request", http.StatusBadRequest, "activity id is not on its actor's host"
	}
	if h.Standards != nil && v.Standard == activitypub.StandardRFC9421 {
		// The key owner's host, as addressed by URL (with its port).
		if u, err := url.Parse(v.Owner); err == nil && u.Host != "" {
			h.Standards.Learn(ctx, u.Host, v.Standard)
		}
	}
	id := store.NewID(now())
	ev, err := json.Marshal(queue.InboxEvent{InboxActivityID: id})
	if err != nil {
		return "error", http.StatusInternalServerError, "internal error"
	}
	inserted, err := h.Store.InsertInboxActivity(ctx, &store.InboxActivity{
		ID: id, URI: act.ID, Type: act.Type, ActorURI: act.Actor.ID, Payload: body,
	}, store.Event{
		MsgID:   "inbox-" + strconv.FormatInt(id, 10),
		Subject: h.Topology.Subject(queue.Inbox, "received"),
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

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

var _ http.Handler = (*Handler)(nil)
