package activitypub

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// Doer sends one HTTP request: an *http.Client or a *DeliveryClient.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// DeliveryClient sends requests over HTTP/1.1 on kept-alive connections,
// writing each request and reading its answer in the caller's goroutine. It
// serves deliveries: thousands of small POSTs, one at a time per connection,
// each answered by an empty 202.
//
// net/http's Transport runs two goroutines per connection and hands every
// request and answer between them and the caller; on a delivery that
// bookkeeping costs about as much CPU as the write and read themselves
// (BenchmarkDeliveryClient: 21–23 against 32–35 µs a request on two cores,
// the test server's share included; BENCHMARKS.md). Here the wire format
// is still net/http's own (Request.Write, ReadResponse); only the
// connection handling is this file's.
//
// What it does not do, by design: follow redirects (a signature covers the
// target, so a redirected delivery could not verify anyway), HTTP/2 (every
// fediverse server speaks HTTP/1.1), proxies (see NewHTTPClient), and
// compression. A reused connection that the remote had closed while idle
// is detected when nothing comes back, and the request goes once more on a
// new connection; that is safe only because a delivery may arrive twice
// (receivers store an activity once), and it needs req.GetBody.
//
// Unless allowPrivate, it refuses non-public addresses as NewHTTPClient does.
type DeliveryClient struct {
	timeout     time.Duration
	idleTimeout time.Duration
	dialer      *net.Dialer
	tls         *tls.Config

	mu   sync.Mutex
	idle map[string][]*deliveryConn // by scheme://host:port, most recent last
}

// NewDeliveryClient returns a DeliveryClient whose every exchange, from dial
// to the end of the answer's body, takes at most timeout.
func NewDeliveryClient(timeout time.Duration, allowPrivate bool) *DeliveryClient {
	return &DeliveryClient{
		timeout:     timeout,
		idleTimeout: clientIdleConnTimeout,
		dialer:      newDialer(allowPrivate),
		tls: &tls.Config{
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"},
			// Resuming a session skips the certificate chain and half the
			// key exchange when a connection to a host is made again.
			ClientSessionCache: tls.NewLRUClientSessionCache(4096),
		},
		idle: make(map[string][]*deliveryConn),
	}
}

// deliveryConn is one connection, idle in the pool or held by one request.
type deliveryConn struct {
	key    string
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	reused bool
	timer  *time.Timer // closes the connection once idle for too long
}

// A long time ago: a deadline that has passed, to make a blocked read or
// write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// Do sends req and returns the answer; the caller reads and closes its
// body, which returns the connection to the pool when it was read to the
// end. Errors wrap what the network said (*net.OpError, *net.DNSError, TLS
// errors) or the context's error.
func (c *DeliveryClient) Do(req *http.Request) (*http.Response, error) {
	if req.URL == nil || (req.URL.Scheme != "https" && req.URL.Scheme != "http") || req.URL.Host == "" {
		return nil, fmt.Errorf("deliver: unsupported URL %q", req.URL)
	}
	ctx := req.Context()
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	key := req.URL.Scheme + "://" + canonicalAddr(req.URL.Scheme, req.URL.Host)
	for attempt := 0; ; attempt++ {
		pc, err := c.conn(ctx, key, req, deadline)
		if err != nil {
			return nil, wrapErr(ctx, req, err)
		}
		resp, err := c.roundTrip(ctx, pc, req, deadline)
		if err == nil {
			return resp, nil
		}
		if !errors.Is(err, errStaleConn) || attempt > 0 || req.GetBody == nil {
			return nil, wrapErr(ctx, req, err)
		}
		body, berr := req.GetBody()
		if berr != nil {
			return nil, wrapErr(ctx, req, berr)
		}
		again := *req
		again.Body = body
		req = &again
	}
}

// wrapErr names the request in err, or says the context ended it.
func wrapErr(ctx context.Context, req *http.Request, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
}

// errStaleConn marks a reused connection that the remote had closed: the
// request may go again on a new one.
var errStaleConn = errors.New("kept-alive connection closed by the remote")

// roundTrip writes req on pc and reads the answer's head. On an error, pc
// is closed.
func (c *DeliveryClient) roundTrip(ctx context.Context, pc *deliveryConn, req *http.Request, deadline time.Time) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		pc.conn.Close()
		return nil, err
	}
	_ = pc.conn.SetWriteDeadline(deadline)
	_ = pc.conn.SetReadDeadline(earliest(deadline, time.Now().Add(clientResponseHeaderTimeout)))
	err := req.Write(pc.bw)
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil {
		if pc.reused && isClosedByPeer(err) {
			err = fmt.Errorf("%w: %w", errStaleConn, err)
		}
		return fail(err)
	}
	// Nothing at all from a reused connection means the remote had closed
	// it before it saw this request.
	if _, err := pc.br.Peek(1); err != nil {
		if pc.reused && isClosedByPeer(err) {
			err = fmt.Errorf("%w: %w", errStaleConn, err)
		}
		return fail(err)
	}
	var resp *http.Response
	for {
		if resp, err = http.ReadResponse(pc.br, req); err != nil {
			return fail(err)
		}
		// 1xx answers (103 Early Hints, a stray 100) come before the real one.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	_ = pc.conn.SetReadDeadline(deadline)
	resp.Body = &deliveryBody{rc: resp.Body, c: c, pc: pc, stop: stop, reuse: !resp.Close && !req.Close}
	return resp, nil
}

// deliveryBody returns its connection to the pool once read to the end, or
// closes it when closed early.
type deliveryBody struct {
	rc    io.ReadCloser
	c     *DeliveryClient
	pc    *deliveryConn
	stop  func() bool
	reuse bool
	done  bool
}

func (b *deliveryBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
	}
	return n, err
}

func (b *deliveryBody) Close() error {
	if !b.done {
		b.finish(b.rc == http.NoBody)
	}
	return nil
}

func (b *deliveryBody) finish(complete bool) {
	b.done = true
	// stop is false when the context was cancelled: the deadline has been
	// moved into the past, and the connection is of no more use.
	if b.stop() && complete && b.reuse {
		b.c.put(b.pc)
		return
	}
	b.pc.conn.Close()
}

// conn returns an idle connection to key, or dials a new one.
func (c *DeliveryClient) conn(ctx context.Context, key string, req *http.Request, deadline time.Time) (*deliveryConn, error) {
	c.mu.Lock()
	for list := c.idle[key]; len(list) > 0; list = c.idle[key] {
		pc := list[len(list)-1]
		list[len(list)-1] = nil
		if len(list) == 1 {
			delete(c.idle, key)
		} else {
			c.idle[key] = list[:len(list)-1]
		}
		// Stop fails when the idle timer has fired: expire is waiting for
		// the lock to close this one, and will no longer find it.
		if pc.timer.Stop() {
			c.mu.Unlock()
			pc.reused = true
			return pc, nil
		}
		pc.conn.Close()
	}
	c.mu.Unlock()
	return c.dial(ctx, key, req, deadline)
}

func (c *DeliveryClient) dial(ctx context.Context, key string, req *http.Request, deadline time.Time) (*deliveryConn, error) {
	dctx, cancel := context.WithDeadline(ctx, earliest(deadline, time.Now().Add(clientDialTimeout)))
	defer cancel()
	conn, err := c.dialer.DialContext(dctx, "tcp", canonicalAddr(req.URL.Scheme, req.URL.Host))
	if err != nil {
		return nil, err
	}
	if req.URL.Scheme == "https" {
		cfg := c.tls.Clone()
		cfg.ServerName = req.URL.Hostname()
		tc := tls.Client(conn, cfg)
		hctx, cancel := context.WithDeadline(ctx, earliest(deadline, time.Now().Add(clientTLSHandshakeTimeout)))
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, err
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
			conn.Close()
			return nil, fmt.Errorf("remote chose protocol %q", p)
		}
		conn = tc
	}
	pc := &deliveryConn{key: key, conn: conn, br: bufio.NewReaderSize(conn, 4<<10), bw: bufio.NewWriterSize(conn, 4<<10)}
	pc.timer = time.AfterFunc(time.Hour, func() { c.expire(pc) })
	pc.timer.Stop()
	return pc, nil
}

// put makes pc idle, or closes it when its host has enough idle ones.
func (c *DeliveryClient) put(pc *deliveryConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle[pc.key]) >= clientMaxIdleConnsPerHost {
		pc.conn.Close()
		return
	}
	c.idle[pc.key] = append(c.idle[pc.key], pc)
	pc.timer.Reset(c.idleTimeout)
}

// expire closes pc if it is still idle.
func (c *DeliveryClient) expire(pc *deliveryConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.idle[pc.key]
	for i, p := range list {
		if p == pc {
			list = append(list[:i], list[i+1:]...)
			if len(list) == 0 {
				delete(c.idle, pc.key)
			} else {
				c.idle[pc.key] = list
			}
			pc.conn.Close()
			return
		}
	}
}

// CloseIdleConnections closes every idle connection; the client stays
// usable.
func (c *DeliveryClient) CloseIdleConnections() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, list := range c.idle {
		for _, pc := range list {
			pc.timer.Stop()
			pc.conn.Close()
		}
		delete(c.idle, key)
	}
}

// isClosedByPeer reports whether err means the remote closed or reset the
// connection.
func isClosedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// canonicalAddr is host:port, with the scheme's port when host has none.
func canonicalAddr(scheme, host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "443"
	if scheme == "http" {
		port = "80"
	}
	if len(host) > 0 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1] // an IPv6 literal without a port
	}
	return net.JoinHostPort(host, port)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
