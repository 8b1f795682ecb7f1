package federation

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DeliveryClient sends deliveries: HTTP/1.1 requests over kept-alive
// connections, a few per host, each request written and its answer read
// on the caller's goroutine. NewDeliveryClient makes one.
//
// Why not an http.Client over net/http's Transport, which fetching keeps:
// the Transport runs two goroutines per connection and hands every request
// and answer between them over channels, and the Client copies headers for
// redirects and arms a timer per request. For a delivery (one small POST,
// a small answer) that machinery cost a quarter of an attempt
// (BENCHMARKS.md, issue 16). The protocol itself is still net/http's:
// http.ReadResponse reads the answer, and http.Request.Write writes any
// request but the plain known-length one a delivery is, which
// writeRequest writes in about half the time (BenchmarkWriteRequest); this type keeps the
// connections and the deadlines. No module
// served here offers that (fasthttp has its own request types, which the
// signers and the Knocker do not speak).
//
// Deliveries do not need HTTP/2: each carries one activity, and no more
// than Policy.PerHost go to one host at once, so a few connections per
// host carry them, as Mastodon's own delivery workers do over HTTP/1.1.
type DeliveryClient struct {
	timeout          time.Duration // of a whole attempt
	dial             func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsConfig        *tls.Config // the system's roots, a session cache
	maxIdlePerHost   int
	idleTimeout      time.Duration
	headerTimeout    time.Duration // from the request written to the answer's header read
	handshakeTimeout time.Duration

	mu   sync.Mutex
	idle map[string][]*poolConn // by scheme://host:port, the most recently used last
}

// tlsSessionCacheSize is how many hosts' TLS sessions are kept for
// resumption; about 100 bytes to a few KB each.
const tlsSessionCacheSize = 4096

// poolConn is one connection and its buffers.
type poolConn struct {
	pool  *DeliveryClient
	key   string
	conn  net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	timer *time.Timer // closes it when it stays idle for idleTimeout
}

// NewDeliveryClient returns the client for deliveries: the same dial
// guard and limits as NewHTTPClient (unless allowPrivate), and no
// redirects (a signature names its target; a 3xx is the answer). timeout
// bounds a whole attempt, dial, TLS, request and answer; 0 leaves only
// the dial's, the handshake's and the answer's own limits.
//
// A request goes again on a new connection when a kept-alive one turns
// out closed only if it is idempotent; a delivery is (a receiver stores an
// activity once), so callers mark it with an empty Idempotency-Key entry,
// which is not sent (see MarkIdempotent).
func NewDeliveryClient(timeout time.Duration, allowPrivate bool) *DeliveryClient {
	return &DeliveryClient{
		timeout: timeout,
		// Reconnections (after an idle timeout, or a host that closes
		// after each answer) resume the TLS session: no certificate chain
		// to verify again.
		tlsConfig:        &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(tlsSessionCacheSize)},
		dial:             newDialer(allowPrivate).DialContext,
		maxIdlePerHost:   clientMaxIdleConnsPerHost,
		idleTimeout:      clientIdleConnTimeout,
		headerTimeout:    clientResponseHeaderTimeout,
		handshakeTimeout: clientTLSHandshakeTimeout,
		idle:             map[string][]*poolConn{},
	}
}

// Do sends req and returns the answer with its header read; the caller
// reads and closes the body, which gives the connection back. A request
// marked idempotent (MarkIdempotent) goes again, once, on a new connection
// when a kept-alive one turns out closed by the remote, as net/http's
// Transport does.
func (p *DeliveryClient) Do(req *http.Request) (*http.Response, error) {
	u := req.URL
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		closeBody(req)
		return nil, fmt.Errorf("unsupported request URL %q", req.URL)
	}
	ctx := req.Context()
	var deadline time.Time // zero: none but the header timeout
	if p.timeout > 0 {
		deadline = time.Now().Add(p.timeout)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	key := u.Scheme + "://" + hostPort(u)
	resp, err := p.do(ctx, req, key, deadline)
	if err != nil {
		// As http.Client says it: the method and URL, then the cause.
		return nil, &url.Error{Op: urlErrorOp(req.Method), URL: u.String(), Err: err}
	}
	return resp, nil
}

func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

func (p *DeliveryClient) do(ctx context.Context, req *http.Request, key string, deadline time.Time) (*http.Response, error) {
	u := req.URL
	for retried := false; ; retried = true {
		c, reused, err := p.get(ctx, key, u, deadline)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := c.roundTrip(ctx, req, deadline)
		if err == nil {
			return resp, nil
		}
		if !reused || retried || !retryable(req, err) || ctx.Err() != nil {
			return nil, err
		}
		body, gerr := req.GetBody()
		if gerr != nil {
			return nil, err
		}
		again := *req // the caller's request stays as it was
		again.Body = body
		req = &again
	}
}

// CloseIdleConnections closes the connections now idle.
func (p *DeliveryClient) CloseIdleConnections() {
	p.mu.Lock()
	idle := p.idle
	p.idle = map[string][]*poolConn{}
	p.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns {
			c.timer.Stop()
			c.conn.Close()
		}
	}
}

// get returns an idle connection to key, or dials one.
func (p *DeliveryClient) get(ctx context.Context, key string, u *url.URL, deadline time.Time) (c *poolConn, reused bool, err error) {
	p.mu.Lock()
	if conns := p.idle[key]; len(conns) > 0 {
		c = conns[len(conns)-1]
		conns[len(conns)-1] = nil
		if len(conns) == 1 {
			delete(p.idle, key)
		} else {
			p.idle[key] = conns[:len(conns)-1]
		}
		c.timer.Stop() // if it already fired, expire finds c gone and leaves it
	}
	p.mu.Unlock()
	if c != nil {
		return c, true, nil
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	c, err = p.dialConn(ctx, key, u)
	return c, false, err
}

func (p *DeliveryClient) dialConn(ctx context.Context, key string, u *url.URL) (*poolConn, error) {
	conn, err := p.dial(ctx, "tcp", hostPort(u))
	if err != nil {
		return nil, err
	}
	if u.Scheme == "https" {
		cfg := &tls.Config{}
		if p.tlsConfig != nil {
			cfg = p.tlsConfig.Clone()
		}
		cfg.ServerName = asciiHost(u.Hostname())
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(conn, cfg)
		hctx, cancel := context.WithTimeout(ctx, p.handshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	return &poolConn{pool: p, key: key, conn: conn,
		br: bufio.NewReaderSize(conn, 4<<10), bw: bufio.NewWriterSize(conn, 4<<10)}, nil
}

// put keeps c for the next request to its host, or closes it when the
// host has enough idle ones.
func (p *DeliveryClient) put(c *poolConn) {
	p.mu.Lock()
	conns := p.idle[c.key]
	if len(conns) >= p.maxIdlePerHost {
		p.mu.Unlock()
		c.conn.Close()
		return
	}
	p.idle[c.key] = append(conns, c)
	if c.timer == nil {
		c.timer = time.AfterFunc(p.idleTimeout, func() { p.expire(c) })
	} else {
		c.timer.Reset(p.idleTimeout)
	}
	p.mu.Unlock()
}

// expire closes c if it is still idle.
func (p *DeliveryClient) expire(c *poolConn) {
	p.mu.Lock()
	conns := p.idle[c.key]
	i := slices.Index(conns, c)
	if i >= 0 {
		conns = slices.Delete(conns, i, i+1)
		if len(conns) == 0 {
			delete(p.idle, c.key)
		} else {
			p.idle[c.key] = conns
		}
	}
	p.mu.Unlock()
	if i >= 0 {
		c.conn.Close()
	}
}

// roundTrip writes req on c and reads the answer's header. The exchange,
// the answer's body included, ends by deadline and within headerTimeout
// of its start; cancelling ctx ends it at once. On error c is closed.
func (c *poolConn) roundTrip(ctx context.Context, req *http.Request, deadline time.Time) (*http.Response, error) {
	if d := time.Now().Add(c.pool.headerTimeout); deadline.IsZero() || d.Before(deadline) {
		deadline = d
	}
	if err := c.conn.SetDeadline(deadline); err != nil {
		c.conn.Close()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.conn.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	if err := writeRequest(c.bw, req); err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return fail(err)
		}
		if resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // 100 Continue, 103 Early Hints: the answer follows
		}
		resp.Body = &poolBody{c: c, body: resp.Body, stop: stop, reuse: !resp.Close && !req.Close}
		return resp, nil
	}
}

// poolBody gives its connection back once the answer's body has been read
// to the end, or closes it.
type poolBody struct {
	c     *poolConn
	body  io.ReadCloser
	stop  func() bool
	reuse bool
	eof   bool
	done  bool
}

func (b *poolBody) Read(p []byte) (int, error) {
	if b.done {
		if b.eof {
			return 0, io.EOF
		}
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
		b.release()
	}
	return n, err
}

// Close reads what is left of a small body, so that the connection can
// carry the next delivery, and releases it.
func (b *poolBody) Close() error {
	if !b.done && !b.eof {
		if _, err := io.CopyN(io.Discard, b.body, 4<<10); err == io.EOF {
			b.eof = true
		}
	}
	b.release()
	return nil
}

func (b *poolBody) release() {
	if b.done {
		return
	}
	b.done = true
	// stop fails when ctx ended: the connection's deadline is then past.
	if b.stop() && b.reuse && b.eof {
		b.c.pool.put(b.c)
		return
	}
	b.c.conn.Close()
}

// retryable reports whether req may go again after err on a kept-alive
// connection: it is idempotent, and the connection was found closed
// rather than slow.
func retryable(req *http.Request, err error) bool {
	if req.GetBody == nil && req.Body != nil && req.Body != http.NoBody {
		return false
	}
	if _, marked := req.Header["Idempotency-Key"]; !marked && req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// hostPort is u's host, in ASCII (as net/http dials it), with its port,
// the scheme's default if none.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(asciiHost(u.Hostname()), port)
}

// asciiHost is host with its labels in Punycode when it has non-ASCII
// ones, as DNS and TLS need it; host as it is when that fails (the dial
// then fails naming it).
func asciiHost(host string) string {
	if isASCII(host) {
		return host
	}
	if a, err := idna.Lookup.ToASCII(host); err == nil {
		return a
	}
	return host
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
