package federation

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/signature"
)

// Doer sends one HTTP request: an *http.Client (NewHTTPClient), the
// DeliveryClient, or a test double.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// StandardStore remembers, per host, the signature standard it accepts
// and the newer one it last refused.
type StandardStore interface {
	// HostSignatures returns every host with a record.
	HostSignatures(ctx context.Context) (map[string]starling.HostSignature, error)
	// SetHostSignature records what host verifies; unless overwrite, only
	// when nothing is recorded yet.
	SetHostSignature(ctx context.Context, host string, s starling.HostSignature, overwrite bool) error
}

// Keys are what an actor signs with: its RSA key, which every standard
// can use, and its Ed25519 key (FEP-521a), for RFC 9421 where the host is
// known to verify it.
type Keys struct {
	KeyID        string
	Key          crypto.PrivateKey // RSA
	Ed25519KeyID string
	Ed25519      crypto.PrivateKey // nil when the actor has no Ed25519 key
}

// Knocker signs outbound requests with the standard each host accepts and
// double-knocks where it does not know. Three choices, newest first: RFC
// 9421 with the actor's Ed25519 key, for a host known to verify it (it
// signed to us with an Ed25519 key); RFC 9421 with the RSA key, for a host
// known to verify RFC 9421; draft-cavage otherwise. What it learns is kept in the
// store, so other processes and restarts know it too. The whole record is
// read at first use and every minute after, so picking a standard never
// costs a query on the delivery path: a host not on record gets
// draft-cavage, which is what "unknown" means.
//
// A knock refused with a newer standard lowers the host to the one that
// succeeded, remembering the refusal: for Reknock (default a week) the
// host gets the lower standard on the first knock, and a request it signs
// with the refused standard does not raise it back. After that the next
// request knocks with the refused standard once more, so a server
// upgraded since (or one that refused for a passing reason) is found
// again; refused again, it is remembered for another Reknock.
type Knocker struct {
	Store  StandardStore
	Logger *slog.Logger
	Now    func() time.Time // default time.Now
	// Reknock is how long a refusal of a newer standard is remembered
	// before it is tried again; default DefaultReknock.
	Reknock time.Duration

	mu     sync.RWMutex
	known  map[string]hostRecord // host → what is on record
	loaded time.Time             // when known was read from Store
}

// DefaultReknock is how long a refused standard is remembered: long enough
// that a host that does not verify it costs one extra knock a week, short
// enough that one that learnt it since is found within days.
const DefaultReknock = 7 * 24 * time.Hour

// hostRecord is a host's starling.HostSignature, with typed standards.
type hostRecord struct {
	std       signature.Standard
	refused   signature.Standard // "" when nothing was refused
	refusedAt time.Time
}

func (k *Knocker) reknock() time.Duration {
	if k.Reknock > 0 {
		return k.Reknock
	}
	return DefaultReknock
}

// refusedNow reports whether rec holds a refusal younger than Reknock.
func (k *Knocker) refusedNow(rec hostRecord) bool {
	return rec.refused != "" && k.now().Sub(rec.refusedAt) < k.reknock()
}

func (k *Knocker) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// knownRefresh is how often the record is read again from the store, to
// learn what other processes learnt.
const knownRefresh = time.Minute

// Preferred returns the standard to try first with host: the one on record,
// else draft-cavage; or the newer standard the host refused, once the
// refusal is Reknock old.
func (k *Knocker) Preferred(ctx context.Context, host string) signature.Standard {
	std, _ := k.preferred(ctx, host)
	return std
}

// preferred is Preferred, and whether the standard is a refused one tried
// again.
func (k *Knocker) preferred(ctx context.Context, host string) (signature.Standard, bool) {
	host = strings.ToLower(host)
	k.refresh(ctx)
	k.mu.RLock()
	rec := k.known[host]
	k.mu.RUnlock()
	if rec.refused != "" && !k.refusedNow(rec) && rank(rec.refused) > rank(rec.std) {
		return rec.refused, true
	}
	switch rec.std {
	case signature.StandardRFC9421, signature.StandardRFC9421Ed25519:
		return rec.std, false
	}
	return signature.StandardCavage, false
}

// rank orders the standards, oldest first: what a host signs with only
// ever raises what it is known to verify.
func rank(std signature.Standard) int {
	switch std {
	case signature.StandardRFC9421:
		return 1
	case signature.StandardRFC9421Ed25519:
		return 2
	}
	return 0
}

// refresh reads the record from the store when it is older than
// knownRefresh. A failed read keeps what is known and is tried again later.
func (k *Knocker) refresh(ctx context.Context) {
	k.mu.RLock()
	fresh := k.known != nil && k.now().Sub(k.loaded) < knownRefresh
	k.mu.RUnlock()
	if fresh {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.known != nil && k.now().Sub(k.loaded) < knownRefresh {
		return // another goroutine did it
	}
	known := map[string]hostRecord{}
	if k.Store != nil {
		all, err := k.Store.HostSignatures(ctx)
		if err != nil {
			k.logger().Warn("read host signature standards", "error", err)
			if k.known == nil {
				k.known = known
			}
			k.loaded = k.now().Add(-knownRefresh + 5*time.Second) // retry in 5 s
			return
		}
		for h, s := range all {
			known[h] = hostRecord{
				std:       signature.Standard(s.Standard),
				refused:   signature.Standard(s.Refused),
				refusedAt: s.RefusedAt,
			}
		}
	}
	k.known, k.loaded = known, k.now()
}

// Learn records that host accepts std, as seen from a request it signed
// to us: a server that signs with a standard verifies it too. It only
// raises what is on record (draft-cavage, then RFC 9421, then RFC 9421
// with Ed25519): Fedify signs with either of its keys, and a request
// signed the older way does not unlearn the newer. A knock refused with
// the newer standard lowers it (Do), and for Reknock a request signed
// with the refused standard does not raise it back: the refusal is the
// better knowledge of what the host verifies.
func (k *Knocker) Learn(ctx context.Context, host string, std signature.Standard) {
	host = strings.ToLower(host)
	k.refresh(ctx)
	k.mu.RLock()
	rec := k.known[host]
	k.mu.RUnlock()
	if k.refusedNow(rec) && rank(std) >= rank(rec.refused) {
		return
	}
	k.remember(ctx, host, hostRecord{std: std}, false)
}

// remember records rec for host: only when its standard ranks above what
// is on record, or whatever is on record when lower is set (a knock
// refused, or a refused standard accepted when tried again).
func (k *Knocker) remember(ctx context.Context, host string, rec hostRecord, lower bool) {
	host = strings.ToLower(host)
	k.refresh(ctx)
	k.mu.RLock()
	cur, ok := k.known[host]
	k.mu.RUnlock()
	if ok && (cur == rec || (!lower && rank(cur.std) >= rank(rec.std))) {
		return
	}
	if ok && rec.refused != "" && cur.std == rec.std && cur.refused == rec.refused && k.refusedNow(cur) {
		return // the same refusal, by a delivery that knocked at the same time
	}
	if k.Store != nil {
		s := starling.HostSignature{Standard: string(rec.std), Refused: string(rec.refused), RefusedAt: rec.refusedAt}
		if err := k.Store.SetHostSignature(ctx, host, s, true); err != nil {
			k.logger().Warn("remember host signature standard", "host", host, "error", err)
			return // try again next time rather than keep what is not stored
		}
	}
	k.mu.Lock()
	k.known[host] = rec
	k.mu.Unlock()
	k.logger().Debug("host signature standard learnt", "host", host, "standard", rec.std, "refused", rec.refused)
}

func (k *Knocker) logger() *slog.Logger {
	if k.Logger != nil {
		return k.Logger
	}
	return slog.Default()
}

// ErrSign marks the errors of Do that come from signing, not from the
// network or the remote: retrying will not help.
var ErrSign = errors.New("cannot sign request")

// usable is std, or RFC 9421 with RSA for RFC 9421 with Ed25519 when
// keys hold no Ed25519 key.
func usable(std signature.Standard, keys Keys) signature.Standard {
	if std == signature.StandardRFC9421Ed25519 && (keys.Ed25519 == nil || keys.Ed25519KeyID == "") {
		return signature.StandardRFC9421
	}
	return std
}

// Sign signs r with std and the key std calls for, at the Knocker's now.
// Errors wrap ErrSign.
func (k *Knocker) Sign(r *http.Request, std signature.Standard, keys Keys, body []byte) error {
	var err error
	switch usable(std, keys) {
	case signature.StandardRFC9421Ed25519:
		err = signature.SignRequestRFC9421(r, keys.Ed25519KeyID, keys.Ed25519, body, k.now())
	case signature.StandardRFC9421:
		err = signature.SignRequestRFC9421(r, keys.KeyID, keys.Key, body, k.now())
	default:
		err = signature.SignRequest(r, keys.KeyID, keys.Key, body, k.now())
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSign, err)
	}
	return nil
}

// Do builds a request with build, signs it with the host's preferred
// standard (RFC 9421 with Ed25519 only when keys hold an Ed25519 key) and
// sends it with client. On a 400 or 401 it builds, signs once more and
// sends, and answers with that second response: with RFC 9421 (RSA) after
// draft-cavage, with draft-cavage after RFC 9421, and with RFC 9421 (RSA)
// after RFC 9421 with Ed25519. A second knock that succeeds is remembered
// for the host, so the next request costs one. body must be the bytes
// build puts in the request. Errors from build are returned as they are,
// signing errors wrap ErrSign. The caller closes the returned body.
func (k *Knocker) Do(ctx context.Context, client Doer, build func() (*http.Request, error), keys Keys, body []byte) (*http.Response, error) {
	req, err := build()
	if err != nil {
		return nil, err
	}
	host := req.URL.Host
	preferred, again := k.preferred(ctx, host)
	first := usable(preferred, keys)
	if log := k.logger(); log.Enabled(ctx, slog.LevelDebug) {
		// Checked first: the arguments alone cost allocations per delivery.
		log.Debug("signing", "host", host, "standard", first)
	}
	if err := k.Sign(req, first, keys, body); err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		// Nothing to record: the first knock used what is known, or
		// draft-cavage for an unknown host, which is what unknown means.
		// Writing it would cost a query per new host on the delivery path.
		// Unless the host asks for a newer standard (RFC 9421's
		// Accept-Signature, which Starling's inbox sends): that is
		// learnt, once, and used from the next request on.
		// Parsing the field costs more than the rest of the bookkeeping,
		// so it is read only when it could teach something.
		if again && resp.StatusCode < 300 && first == preferred {
			// The standard refused a week ago is verified now.
			k.logger().Info("host accepts a signature standard it refused", "host", host, "standard", first)
			k.remember(ctx, host, hostRecord{std: first}, true)
			return resp, nil
		}
		if resp.StatusCode < 300 && rank(first) < rank(signature.StandardRFC9421Ed25519) {
			if std, ok := signature.AcceptedStandard(resp.Header); ok && rank(std) > rank(first) {
				k.Learn(ctx, host, std)
			}
		}
		return resp, nil
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()

	// Down one step at a time: RFC 9421 with Ed25519, then with RSA, then
	// draft-cavage, which every server verifies. A host only guessed to
	// verify Ed25519 (it publishes such a key) may verify neither form of
	// RFC 9421: it costs two extra knocks, once, and is remembered.
	// (A host not on record got draft-cavage: its refusal means it wants
	// RFC 9421.)
	then := map[signature.Standard][]signature.Standard{
		signature.StandardCavage:         {signature.StandardRFC9421},
		signature.StandardRFC9421:        {signature.StandardCavage},
		signature.StandardRFC9421Ed25519: {signature.StandardRFC9421, signature.StandardCavage},
	}[first]
	if len(then) == 0 {
		then = []signature.Standard{signature.StandardCavage}
	}
	for i, next := range then {
		req, err = build()
		if err != nil {
			return nil, err
		}
		if err := k.Sign(req, next, keys, body); err != nil {
			return nil, err
		}
		resp, err = client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("knock again (%s): %w", next, err)
		}
		if resp.StatusCode < 300 {
			k.logger().Info("host accepts another signature standard", "host", host, "standard", next, "refused", first)
			rec := hostRecord{std: next}
			if rank(first) > rank(next) {
				// Remembered for Reknock, then knocked with again.
				rec.refused, rec.refusedAt = first, k.now()
			}
			k.remember(ctx, host, rec, true)
			return resp, nil
		}
		if i == len(then)-1 || (resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized) {
			break // the last knock, or not a refusal of the signature: the answer stands
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	return resp, nil
}

// Knows reports whether a standard is on record for host, learnt or
// guessed.
func (k *Knocker) Knows(ctx context.Context, host string) bool {
	host = strings.ToLower(host)
	k.refresh(ctx)
	k.mu.RLock()
	_, known := k.known[host]
	k.mu.RUnlock()
	return known
}

// Guess records that host probably verifies std, from what it publishes
// (an actor with an Ed25519 key), unless something is on record for it
// already: what a host signs with or answers is better knowledge. A wrong
// guess costs the knocks down to what it verifies, once.
func (k *Knocker) Guess(ctx context.Context, host string, std signature.Standard) {
	host = strings.ToLower(host)
	if k.Knows(ctx, host) {
		return
	}
	if k.Store != nil {
		// Only where nothing is on record: another process may know more
		// than this one has read yet.
		if err := k.Store.SetHostSignature(ctx, host, starling.HostSignature{Standard: string(std)}, false); err != nil {
			k.logger().Warn("record guessed host signature standard", "host", host, "error", err)
			return
		}
	}
	k.mu.Lock()
	if _, ok := k.known[host]; !ok {
		k.known[host] = hostRecord{std: std}
	}
	k.mu.Unlock()
}
