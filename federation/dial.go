package federation

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is returned (wrapped) when a dial to a loopback, private,
// link-local, unspecified, multicast, or otherwise non-public address is
// refused.
var ErrPrivateAddress = errors.New("refusing to connect to a non-public address")

// Limits of the clients NewHTTPClient and NewDeliveryClient return.
const (
	clientDialTimeout           = 5 * time.Second
	clientTLSHandshakeTimeout   = 5 * time.Second
	clientResponseHeaderTimeout = 10 * time.Second
	clientIdleConnTimeout       = 90 * time.Second
	clientKeepAlive             = 30 * time.Second
	clientMaxIdleConnsPerHost   = 8
	clientMaxRedirects          = 3
)

// NewHTTPClient returns an http.Client for fetching from remote servers.
// timeout bounds a whole exchange, redirects and reading the body included.
//
// Unless allowPrivate, the client refuses to connect to non-public IP
// addresses (ErrPrivateAddress). Every remote URL comes from someone else's
// data, so without the guard anyone could make us reach our own database,
// cloud metadata or admin ports. The check runs on the address actually being
// dialled, after DNS resolution, on every connection, so neither DNS
// rebinding nor a redirect to an internal host gets around it. For the same
// reason the client ignores HTTP_PROXY and friends: through a proxy we could
// not see where the connection really goes.
//
// At most 3 redirects are followed.
func NewHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	return &http.Client{
		Transport: NewTransport(allowPrivate),
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > clientMaxRedirects {
				return fmt.Errorf("stopped after %d redirects", clientMaxRedirects)
			}
			return nil
		},
	}
}

// MarkIdempotent lets r go again once on a fresh connection when a
// kept-alive one was closed by the remote before answering, without
// sending any header (net/http and the delivery client treat a present
// but empty Idempotency-Key as idempotent). r must have a GetBody, as http.NewRequest gives a
// request over a bytes.Reader.
func MarkIdempotent(r *http.Request) {
	r.Header["Idempotency-Key"] = nil
}

// NewTransport returns the fetching client's Transport: the dial guard
// (unless allowPrivate), no proxy, dial, TLS and response-header timeouts,
// and a few idle connections per host with no global cap, since thousands
// of hosts each keep their own.
func NewTransport(allowPrivate bool) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           newDialer(allowPrivate).DialContext,
		ForceAttemptHTTP2:     true, // a custom DialContext turns HTTP/2 off otherwise
		TLSHandshakeTimeout:   clientTLSHandshakeTimeout,
		ResponseHeaderTimeout: clientResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       clientIdleConnTimeout,
		MaxIdleConns:          0, // no global cap
		MaxIdleConnsPerHost:   clientMaxIdleConnsPerHost,
	}
}

// newDialer returns the dialer of both clients (NewHTTPClient's and
// NewDeliveryClient's), guarded unless allowPrivate.
func newDialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{
		Timeout:   clientDialTimeout,
		KeepAlive: clientKeepAlive,
	}
	if !allowPrivate {
		d.Control = refuseNonPublic
	}
	return d
}

// refuseNonPublic is a net.Dialer.Control function. It sees the resolved
// address just before connect, which is what makes the guard hold against DNS
// rebinding; the resolver's own connections do not pass through it.
func refuseNonPublic(network, address string, _ syscall.RawConn) error {
	// The dialer wraps this in a *net.OpError that names the address.
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !isPublicAddr(ap.Addr()) {
		return ErrPrivateAddress
	}
	return nil
}

// isPublicAddr reports whether a is a globally reachable unicast address.
func isPublicAddr(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() {
		// IsGlobalUnicast excludes loopback, link-local, multicast and
		// unspecified addresses; IsPrivate covers RFC 1918 and fc00::/7.
		return false
	}
	if a.Is6() {
		// Transition prefixes carry an IPv4 address that a gateway will reach
		// for us, so judge that address instead.
		b := a.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(a): // NAT64
			return isPublicAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case b[0] == 0x20 && b[1] == 0x02: // 6to4, 2002::/16
			return isPublicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, p := range nonPublicPrefixes() {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// nonPublicPrefixes lists special-purpose ranges (IANA IPv4 and IPv6
// special-purpose registries) that are not reachable on the public internet
// and that netip's predicates do not already exclude.
func nonPublicPrefixes() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
		netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
		netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
		netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
		netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
		netip.MustParsePrefix("100::/64"),        // discard-only
		netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, Teredo
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("3fff::/20"),       // documentation
		netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
		netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs
	}
}
