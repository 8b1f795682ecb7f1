package main

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/signature"
	"golang.org/x/sync/singleflight"
)

// Behaviour is how a simulated remote host answers deliveries.
type Behaviour struct {
	Delay      time.Duration // sleep before answering
	Hang       bool          // never answer (until the request is cancelled)
	Status     int           // answer this status (default 202)
	RetryAfter string        // with a 429 or 503
	CloseConn  bool          // send Connection: close and drop the connection
	FailFirst  int           // answer Status for the first FailFirst requests, then 202
	// Legacy: the host verifies draft-cavage only, as most of the
	// fediverse did before 2025: an RFC 9421 signature is answered 401
	// (a knock the sender must fall back from), and it never asks for
	// Ed25519.
	Legacy bool
}

// Fleet is a set of simulated remote servers on loopback, each on its own
// address 127.0.x.y, each with a shared inbox that verifies HTTP signatures
// (fetching the signer's key from its server) and counts deliveries. The
// load tool and the delivery tests use it.
type Fleet struct {
	Hosts []*FleetHost

	client *http.Client
	srv    *http.Server
	keys   sync.Map // keyID → crypto.PublicKey
	// fetching makes the fleet's first deliveries, hundreds at once, fetch
	// a key once, as a remote that already follows us would have it.
	fetching singleflight.Group
	byHost   map[string]*FleetHost
	// AcceptEd25519 makes every host answer a delivery it accepts with
	// Accept-Signature asking for RFC 9421 with Ed25519, as Starling's
	// inbox does, so the sender signs with its Ed25519 key from then on.
	// Set it before the first delivery.
	AcceptEd25519 bool
}

// FleetHost is one simulated server.
type FleetHost struct {
	Addr string // host:port, the host of its URLs

	mu        sync.Mutex
	behaviour Behaviour
	requests  int
	attempts  []time.Time            // arrival of every request
	received  map[string][]time.Time // activity id → arrival of each verified delivery
	rejected  int
	knocks    int            // RFC 9421 deliveries a legacy host refused
	standards map[string]int // verified deliveries by standard (and Ed25519)
	bodies    [][]byte
}

// NewFleet starts n hosts. Host i listens on 127.0.(1+i/250).(1+i%250).
func NewFleet(n int) (*Fleet, error) {
	f := &Fleet{client: &http.Client{Timeout: 10 * time.Second}, byHost: map[string]*FleetHost{}}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 10 * time.Second}
	for i := range n {
		ip := fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250)
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("fleet host %d: %w", i, err)
		}
		h := &FleetHost{Addr: ln.Addr().String(), received: map[string][]time.Time{}, standards: map[string]int{}}
		f.Hosts = append(f.Hosts, h)
		f.byHost[h.Addr] = h
		go f.srv.Serve(ln) //nolint:errcheck // ends with Close
	}
	return f, nil
}

// Close stops every host.
func (f *Fleet) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
	_ = f.srv.Close()
}

// Set changes how h answers from now on.
func (h *FleetHost) Set(b Behaviour) {
	h.mu.Lock()
	h.behaviour, h.requests = b, 0
	h.mu.Unlock()
}

// SharedInbox is h's shared inbox URL.
func (h *FleetHost) SharedInbox() string { return "http://" + h.Addr + "/inbox" }

// ActorURI is the URI of user on h.
func (h *FleetHost) ActorURI(user string) string { return "http://" + h.Addr + "/users/" + user }

// Received returns the arrival times of the verified deliveries of activity id.
func (h *FleetHost) Received(id string) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.received[id]...)
}

// Standards returns h's verified deliveries by signature standard, and
// the RFC 9421 deliveries it refused as a legacy host.
func (h *FleetHost) Standards() (map[string]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.standards))
	for k, v := range h.standards {
		out[k] = v
	}
	return out, h.knocks
}

// Counts returns the requests h saw, and how many failed verification.
func (h *FleetHost) Counts() (requests, rejected int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests, h.rejected
}

// Attempts returns the arrival time of every request h saw.
func (h *FleetHost) Attempts() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.attempts...)
}

// Distinct returns how many distinct activities h received.
func (h *FleetHost) Distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.received)
}

func (f *Fleet) serve(w http.ResponseWriter, r *http.Request) {
	h := f.byHost[r.Host]
	if h == nil || r.Method != http.MethodPost || r.URL.Path != "/inbox" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, federation.MaxDocumentSize))
	h.mu.Lock()
	h.requests++
	if len(h.attempts) < 10_000 {
		h.attempts = append(h.attempts, time.Now())
	}
	n, b := h.requests, h.behaviour
	h.mu.Unlock()
	if b.Hang {
		<-r.Context().Done()
		return
	}
	if b.Delay > 0 {
		select {
		case <-time.After(b.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if b.Status != 0 && (b.FailFirst == 0 || n <= b.FailFirst) {
		if b.RetryAfter != "" {
			w.Header().Set("Retry-After", b.RetryAfter)
		}
		if b.CloseConn {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(b.Status)
		return
	}
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	rfc9421 := r.Header.Get("Signature-Input") != ""
	if b.Legacy && rfc9421 {
		h.mu.Lock()
		h.knocks++
		h.mu.Unlock()
		http.Error(w, "only draft-cavage HTTP signatures are verified here", http.StatusUnauthorized)
		return
	}
	if _, err := signature.VerifyRequest(r.Context(), r, body, time.Now(), f.lookup); err != nil {
		h.mu.Lock()
		h.rejected++
		h.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var act struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &act)
	now := time.Now()
	h.mu.Lock()
	h.received[act.ID] = append(h.received[act.ID], now)
	h.bodies = append(h.bodies[:0], body)
	standard := "draft-cavage"
	if rfc9421 {
		standard = "rfc9421-rsa"
		if strings.Contains(r.Header.Get("Signature-Input"), `alg="ed25519"`) {
			standard = "rfc9421-ed25519"
		}
	}
	h.standards[standard]++
	h.mu.Unlock()
	if f.AcceptEd25519 && !b.Legacy {
		w.Header().Set("Accept-Signature", signature.AcceptSignatureEd25519)
	}
	w.WriteHeader(http.StatusAccepted)
}

// lookup fetches and caches the signer's key from its own server, as a
// real remote would.
func (f *Fleet) lookup(ctx context.Context, keyID string, refresh bool) (crypto.PublicKey, string, error) {
	type entry struct {
		key   crypto.PublicKey
		owner string
	}
	if v, ok := f.keys.Load(keyID); ok && !refresh {
		e := v.(entry)
		return e.key, e.owner, nil
	}
	v, err, _ := f.fetching.Do(keyID, func() (any, error) {
		key, owner, err := f.fetchKey(ctx, keyID)
		if err != nil {
			return nil, err
		}
		e := entry{key, owner}
		f.keys.Store(keyID, e)
		return e, nil
	})
	if err != nil {
		return nil, "", err
	}
	e := v.(entry)
	return e.key, e.owner, nil
}

// fetchKey fetches keyID and returns its key and owner: from a key
// document of its own (Starling's Ed25519 key), or from the actor keyID
// is a fragment of (its RSA key, or an Ed25519 Multikey in
// assertionMethod).
func (f *Fleet) fetchKey(ctx context.Context, keyID string) (crypto.PublicKey, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, keyID, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", activitypub.ContentType)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var doc struct {
		activitypub.Actor
		Owner        string `json:"owner"`
		PublicKeyPEM string `json:"publicKeyPem"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, "", fmt.Errorf("fetch key %s: status %d, %v", keyID, resp.StatusCode, err)
	}
	if doc.ID == keyID && doc.Owner != "" && doc.PublicKeyPEM != "" {
		key, err := signature.ParsePublicKey(doc.PublicKeyPEM)
		return key, doc.Owner, err
	}
	if doc.PublicKey == nil {
		return nil, "", fmt.Errorf("fetch key %s: status %d, no key", keyID, resp.StatusCode)
	}
	for _, k := range doc.AssertionMethod {
		if k.ID == keyID {
			key, err := signature.DecodeMultikey(k.PublicKeyMultibase)
			return key, doc.ID, err
		}
	}
	key, err := signature.ParsePublicKey(doc.PublicKey.PublicKeyPEM)
	if err != nil {
		return nil, "", err
	}
	return key, doc.ID, nil
}

// FollowerStore is what FollowFrom writes through: either store.
type FollowerStore interface {
	UpsertRemoteAccount(ctx context.Context, a *starling.Account) (*starling.Account, error)
	UpsertRemoteFollow(ctx context.Context, f *starling.Follow) (*starling.Follow, error)
}

// FollowFrom makes perHost accounts on each of hosts accepted followers of
// followee, writing them straight into the store as if each had been
// fetched and had sent a Follow.
func FollowFrom(ctx context.Context, db FollowerStore, followee *starling.Account, hosts []*FleetHost, perHost int) error {
	type job struct {
		h *FleetHost
		j int
	}
	jobs := make(chan job)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jb := range jobs {
				user := "u" + strconv.Itoa(jb.j)
				a, err := db.UpsertRemoteAccount(ctx, &starling.Account{
					Username: user, Domain: jb.h.Addr, URI: jb.h.ActorURI(user),
					InboxURL: jb.h.ActorURI(user) + "/inbox", SharedInboxURL: jb.h.SharedInbox(),
					KeyID: jb.h.ActorURI(user) + "#main-key", PublicKeyPEM: "simulated",
				})
				if err == nil {
					_, err = db.UpsertRemoteFollow(ctx, &starling.Follow{ID: starling.NewID(time.Now()), FollowerID: a.ID,
						FolloweeID: followee.ID, URI: jb.h.ActorURI(user) + "/follows/" + strconv.FormatInt(followee.ID, 10), Accepted: true})
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for _, h := range hosts {
		for j := range perHost {
			jobs <- job{h, j}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("add fleet followers: %w", err)
	default:
		return nil
	}
}
