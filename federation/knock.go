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

	"github.com/starling-social/starling/signature"
)

// Doer sends one HTTP request: an *http.Client (NewHTTPClient) or a test
// double.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// StandardStore remembers, per host, the signature standard it accepts.
type StandardStore interface {
	// HostSignatureStandards returns every host with a standard on record.
	HostSignatureStandards(ctx context.Context) (map[string]string, error)
	// SetHostSignatureStandard records standard for host; unless overwrite,
	// only when nothing is recorded yet.
	SetHostSignatureStandard(ctx context.Context, host, standard string, overwrite bool) error
}

// Knocker signs outbound requests with the standard each host accepts and
// double-knocks where it does not know. What it learns is kept in the
// store, so other processes and restarts know it too. The whole record is
// read at first use and every minute after, so picking a standard never
// costs a query on the delivery path: a host not on record gets
// draft-cavage, which is what "unknown" means.
type Knocker struct {
	Store  StandardStore
	Logger *slog.Logger
	Now    func() time.Time // default time.Now

	mu     sync.RWMutex
	known  map[string]signature.Standard // host → standard on record
	loaded time.Time                     // when known was read from Store
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
// else draft-cavage.
func (k *Knocker) Preferred(ctx context.Context, host string) signature.Standard {
	host = strings.ToLower(host)
	k.refresh(ctx)
	k.mu.RLock()
	std := k.known[host]
	k.mu.RUnlock()
	if std == signature.StandardRFC9421 {
		return signature.StandardRFC9421
	}
	return signature.StandardCavage
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
	known := map[string]signature.Standard{}
	if k.Store != nil {
		all, err := k.Store.HostSignatureStandards(ctx)
		if err != nil {
			k.logger().Warn("read host signature standards", "error", err)
			if k.known == nil {
				k.known = known
			}
			k.loaded = k.now().Add(-knownRefresh + 5*time.Second) // retry in 5 s
			return
		}
		for h, std := range all {
			known[h] = signature.Standard(std)
		}
	}
	k.known, k.loaded = known, k.now()
}

// Learn records that host accepts std, as seen from a request it signed
// to us: a server that signs with a standard verifies it too.
func (k *Knocker) Learn(ctx context.Context, host string, std signature.Standard) {
	k.remember(ctx, host, std, true)
}

func (k *Knocker) remember(ctx context.Context, host string, std signature.Standard, overwrite bool) {
	host = strings.ToLower(host)
	k.refresh(ctx)
	k.mu.RLock()
	cur, ok := k.known[host]
	k.mu.RUnlock()
	if ok && (cur == std || !overwrite) {
		return
	}
	if k.Store != nil {
		if err := k.Store.SetHostSignatureStandard(ctx, host, string(std), overwrite); err != nil {
			k.logger().Warn("remember host signature standard", "host", host, "error", err)
			return // try again next time rather than keep what is not stored
		}
	}
	k.mu.Lock()
	k.known[host] = std
	k.mu.Unlock()
	k.logger().Debug("host signature standard learnt", "host", host, "standard", std)
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

// Sign signs r with std, at the Knocker's now. Errors wrap ErrSign.
func (k *Knocker) Sign(r *http.Request, std signature.Standard, keyID string, key crypto.PrivateKey, body []byte) error {
	var err error
	if std == signature.StandardRFC9421 {
		err = signature.SignRequestRFC9421(r, keyID, key, body, k.now())
	} else {
		err = signature.SignRequest(r, keyID, key, body, k.now())
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSign, err)
	}
	return nil
}

// Do builds a request with build, signs it with the host's preferred
// standard and sends it with client. On a 400 or 401 it builds, signs with
// the other standard and sends once more, and answers with that second
// response. body must be the bytes build puts in the request. Errors from
// build are returned as they are, signing errors wrap ErrSign. The caller
// closes the returned body.
func (k *Knocker) Do(ctx context.Context, client Doer, build func() (*http.Request, error), keyID string, key crypto.PrivateKey, body []byte) (*http.Response, error) {
	req, err := build()
	if err != nil {
		return nil, err
	}
	host := req.URL.Host
	first := k.Preferred(ctx, host)
	k.logger().Debug("signing", "host", host, "standard", first)
	if err := k.Sign(req, first, keyID, key, body); err != nil {
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
		return resp, nil
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()

	second := signature.StandardRFC9421
	if first == signature.StandardRFC9421 {
		second = signature.StandardCavage
	}
	req, err = build()
	if err != nil {
		return nil, err
	}
	if err := k.Sign(req, second, keyID, key, body); err != nil {
		return nil, err
	}
	resp2, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("second knock (%s): %w", second, err)
	}
	if resp2.StatusCode < 300 {
		k.logger().Info("host accepts the other signature standard", "host", host, "standard", second)
		k.Learn(ctx, host, second)
	}
	return resp2, nil
}
