package fanout

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/store"
)

// DeliveryStore is what a delivery worker needs of the store.
type DeliveryStore interface {
	ActivityByID(ctx context.Context, id int64) (*store.Activity, error)
	AccountByID(ctx context.Context, id int64) (*store.Account, error)
}

// Knocker signs and sends one delivery attempt, retrying once with the
// other signature standard on a 400 or 401; activitypub.Knocker is one.
type Knocker interface {
	Do(ctx context.Context, client *http.Client, build func() (*http.Request, error), keyID string, key crypto.PrivateKey, body []byte) (*http.Response, error)
}

// DefaultMaxAttempts is how many times a delivery is tried before it is
// given up (with the consumer's backoff, about a day and a half).
const DefaultMaxAttempts = 16

// Deliverer signs and POSTs deliveries. It is safe for concurrent use.
type Deliverer struct {
	Store       DeliveryStore
	Client      *http.Client
	UserAgent   string
	Logger      *slog.Logger
	MaxAttempts uint64           // default DefaultMaxAttempts
	Now         func() time.Time // default time.Now
	// Knocker, when set, signs and sends each attempt with the signature
	// standard the remote accepts (activitypub.Knocker).
	Knocker Knocker

	mu   sync.Mutex
	keys map[string]crypto.PrivateKey // parsed keys by PEM: parsing costs more than signing
}

// HandleDelivery is the queue.Handler of the delivery stream. It acks only
// after the remote answered 2xx, or after deciding the delivery can never
// succeed. Every attempt builds and signs a new request, with a fresh Date.
func (d *Deliverer) HandleDelivery(ctx context.Context, msg jetstream.Msg) error {
	var m queue.DeliveryMessage
	if err := json.Unmarshal(msg.Data(), &m); err != nil {
		return queue.Permanent(fmt.Errorf("decode delivery: %w", err))
	}
	log := d.Logger.With("inbox", m.Inbox, "activity_id", m.ActivityID)
	err := d.deliver(ctx, m)
	if err == nil || queue.IsPermanent(err) {
		return err
	}
	maxAttempts := d.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = DefaultMaxAttempts
	}
	if md, merr := msg.Metadata(); merr == nil && md.NumDelivered >= maxAttempts {
		log.Warn("delivery attempts exhausted", "attempts", md.NumDelivered, "error", err)
		return queue.Permanent(fmt.Errorf("after %d attempts: %w", md.NumDelivered, err))
	}
	return err
}

func (d *Deliverer) deliver(ctx context.Context, m queue.DeliveryMessage) error {
	act, err := d.Store.ActivityByID(ctx, m.ActivityID)
	if errors.Is(err, store.ErrNotFound) {
		return queue.Permanent(err)
	}
	if err != nil {
		return err
	}
	actor, err := d.Store.AccountByID(ctx, m.ActorID)
	if errors.Is(err, store.ErrNotFound) {
		return queue.Permanent(err)
	}
	if err != nil {
		return err
	}
	key, err := d.privateKey(actor.PrivateKeyPEM)
	if err != nil {
		return queue.Permanent(fmt.Errorf("key of %s: %w", actor.URI, err))
	}
	build := func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Inbox, bytes.NewReader(act.Payload))
		if err != nil {
			return nil, queue.Permanent(fmt.Errorf("build request to %s: %w", m.Inbox, err))
		}
		req.Header.Set("Content-Type", activitypub.LDContentType)
		req.Header.Set("Accept", activitypub.ContentType)
		req.Header.Set("User-Agent", d.UserAgent)
		queue.TraceFrom(ctx).SetHTTP(req.Header)
		return req, nil
	}
	resp, err := d.send(ctx, build, actor.KeyID, key, act.Payload)
	if queue.IsPermanent(err) {
		return err
	}
	if err != nil {
		if errors.Is(err, activitypub.ErrPrivateAddress) {
			return queue.Permanent(fmt.Errorf("deliver to %s: %w", m.Inbox, err))
		}
		return fmt.Errorf("deliver to %s: %w", m.Inbox, err)
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return classify(m.Inbox, resp)
}

// send signs and POSTs one attempt: through the Knocker (which picks the
// signature standard per host and double-knocks) when there is one, else
// draft-cavage.
func (d *Deliverer) send(ctx context.Context, build func() (*http.Request, error), keyID string, key crypto.PrivateKey, body []byte) (*http.Response, error) {
	if d.Knocker != nil {
		resp, err := d.Knocker.Do(ctx, d.Client, build, keyID, key, body)
		if errors.Is(err, activitypub.ErrSign) {
			return nil, queue.Permanent(err)
		}
		return resp, err
	}
	req, err := build()
	if err != nil {
		return nil, err
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	if err := activitypub.SignRequest(req, keyID, key, body, now()); err != nil {
		return nil, queue.Permanent(err)
	}
	return d.Client.Do(req)
}

// classify turns a remote's answer into success, a retry, or a permanent failure.
func classify(inbox string, resp *http.Response) error {
	code := resp.StatusCode
	err := fmt.Errorf("deliver to %s: status %d", inbox, code)
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return queue.RetryAfter(d, err)
		}
		return err
	case code == http.StatusRequestTimeout || code >= 500:
		return err
	default:
		return queue.Permanent(err)
	}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date. Values
// are capped at a day so a remote cannot park a delivery forever.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, time.Second), 24*time.Hour), true
}

func (d *Deliverer) privateKey(pemText string) (crypto.PrivateKey, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if k, ok := d.keys[pemText]; ok {
		return k, nil
	}
	k, err := activitypub.ParsePrivateKey(pemText)
	if err != nil {
		return nil, err
	}
	if d.keys == nil || len(d.keys) > 10_000 {
		d.keys = map[string]crypto.PrivateKey{} // crude bound; few accounts post at once
	}
	d.keys[pemText] = k
	return k, nil
}
