package activitypub

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
)

// StandardStore remembers, per remote host, which HTTP signature standard
// it accepts.
type StandardStore interface {
	// HostSignatureStandard returns "" when nothing is known of host.
	HostSignatureStandard(ctx context.Context, host string) (string, error)
	// SetHostSignatureStandard records standard for host; unless overwrite,
	// only when nothing is recorded yet.
	SetHostSignatureStandard(ctx context.Context, host, standard string, overwrite bool) error
}

// Knocker signs and sends requests with the signature standard each host
// accepts, finding out by "double-knocking"
// (https://swicg.github.io/activitypub-http-signature/): a host of unknown
// preference gets draft-cavage, which every server speaks; if it answers 400
// or 401, the request is signed again with RFC 9421 and sent once more. The
// standard that got a success is remembered for the host, and so is RFC 9421
// for a host that signed a request to us with it (Learn), since a server
// that signs with RFC 9421 verifies it too.
//
// A Knocker is safe for concurrent use. Store may be nil: nothing is
// remembered then beyond the process's cache.
type Knocker struct {
	Store  StandardStore
	Logger *slog.Logger
	Now    func() time.Time // default time.Now

	cache sync.Map // host → Standard, "" when nothing is known
}

func (k *Knocker) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Preferred returns the standard to sign with first for host.
func (k *Knocker) Preferred(ctx context.Context, host string) Standard {
	host = strings.ToLower(host)
	v, ok := k.cache.Load(host)
	if !ok {
		var known Standard // "" while nothing is known
		if k.Store != nil {
			got, err := k.Store.HostSignatureStandard(ctx, host)
			if err != nil {
				// Unknown is safe: cavage first, then a second knock.
				k.logger().Warn("read host signature standard", "host", host, "error", err)
				return StandardCavage
			}
			known = Standard(got)
		}
		k.cache.Store(host, known)
		v = known
	}
	if v.(Standard) == StandardRFC9421 {
		return StandardRFC9421
	}
	return StandardCavage
}

// Learn records that host accepts std: it signed a request to us with it,
// or it accepted a second knock. It writes only when that changes what is
// known, so calling it on every verified request is cheap.
func (k *Knocker) Learn(ctx context.Context, host string, std Standard) {
	k.remember(ctx, host, std, true)
}

// remember records std for host; unless overwrite, only when nothing is
// known yet. A first knock that succeeds is weak evidence (every server
// takes draft-cavage) and must not undo an RFC 9421 learnt meanwhile.
func (k *Knocker) remember(ctx context.Context, host string, std Standard, overwrite bool) {
	host = strings.ToLower(host)
	if v, ok := k.cache.Load(host); ok && (v.(Standard) == std || (!overwrite && v.(Standard) != "")) {
		return
	}
	if k.Store != nil {
		if err := k.Store.SetHostSignatureStandard(ctx, host, string(std), overwrite); err != nil {
			k.logger().Warn("remember host signature standard", "host", host, "error", err)
			return // try again next time rather than cache what is not stored
		}
	}
	if !overwrite {
		// Another process may have learnt something else; read it back.
		k.cache.Delete(host)
		k.Preferred(ctx, host)
		return
	}
	k.cache.Store(host, std)
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
func (k *Knocker) Sign(r *http.Request, std Standard, keyID string, key crypto.PrivateKey, body []byte) error {
	var err error
	if std == StandardRFC9421 {
		err = SignRequestRFC9421(r, keyID, key, body, k.now())
	} else {
		err = SignRequest(r, keyID, key, body, k.now())
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
func (k *Knocker) Do(ctx context.Context, client *http.Client, build func() (*http.Request, error), keyID string, key crypto.PrivateKey, body []byte) (*http.Response, error) {
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

	second := StandardRFC9421
	if first == StandardRFC9421 {
		second = StandardCavage
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
