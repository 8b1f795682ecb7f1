package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is Starling's connection to NATS: JetStream for the streams, core
// NATS for streaming events. It is the only holder of NATS types; the
// stages see Message and Handler, and publish through the small
// interfaces they declare, which Conn implements. It is safe for
// concurrent use.
type Conn struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	topo     Topology
	url      string
	closed   chan struct{}  // closed by the client when the connection is closed
	embedded *server.Server // started by Dial, shut down by Close; nil with a URL
}

// Dial connects to the NATS server at url. With an empty url it starts an
// in-process nats-server with JetStream storing under dir, listening on no
// port, and connects to it in process; Close shuts it down.
func Dial(url, dir, name string, topo Topology) (*Conn, error) {
	var embedded *server.Server
	if url == "" {
		var err error
		if embedded, err = startEmbedded(dir); err != nil {
			return nil, err
		}
	}
	c, err := connect(url, embedded, name, topo)
	if err != nil {
		if embedded != nil {
			embedded.Shutdown()
			embedded.WaitForShutdown()
		}
		return nil, err
	}
	c.embedded = embedded
	return c, nil
}

// Clone opens another connection to the same server (in process when it
// is embedded), as a second process would: tests run a second api
// process with it. Closing the clone leaves the server running.
func (c *Conn) Clone(name string) (*Conn, error) {
	embedded := c.embedded
	if embedded == nil && c.url == "" {
		return nil, errors.New("clone nats connection: closed")
	}
	return connect(c.url, embedded, name, c.topo)
}

func connect(url string, embedded *server.Server, name string, topo Topology) (*Conn, error) {
	closed := make(chan struct{})
	opts := []nats.Option{
		nats.Name(name),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.MaxReconnects(-1), // NATS restarts are expected; keep trying
		nats.ReconnectWait(time.Second),
	}
	if url == "" {
		opts = append(opts, nats.InProcessServer(embedded))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Conn{nc: nc, js: js, topo: topo, url: url, closed: closed}, nil
}

// Topology returns the names the connection publishes and consumes under.
func (c *Conn) Topology() Topology { return c.topo }

// Ready reports whether the connection to NATS is up (readiness): while
// it reconnects, publishes wait and fail.
func (c *Conn) Ready() error {
	if st := c.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("queue: NATS connection %s", st)
	}
	return nil
}

// EnsureStreams creates or updates every stream of the topology (see the
// package function EnsureStreams).
func (c *Conn) EnsureStreams(ctx context.Context, override Limits) error {
	return EnsureStreams(ctx, c.js, c.topo, override)
}

// Close drains the connection (pending publishes are flushed) and, when
// Dial started an embedded server, shuts the server down. Call it after
// every consumer, relay and monitor using the connection has returned.
func (c *Conn) Close() error {
	err := c.nc.Drain() // closes the connection when done (bounded by the client's drain timeout)
	if err != nil {
		c.nc.Close()
	}
	<-c.closed
	if c.embedded != nil {
		c.embedded.Shutdown()
		c.embedded.WaitForShutdown()
		c.embedded = nil
	}
	if err != nil {
		return fmt.Errorf("drain nats connection: %w", err)
	}
	return nil
}

// startEmbedded starts an in-process nats-server with JetStream storing
// under dir. It listens on no port: the single-binary mode talks to it in
// process.
func startEmbedded(dir string) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "starling-embedded",
		JetStream:  true,
		StoreDir:   dir,
		DontListen: true,
		NoSigs:     true,
		// Files are synced every 2 minutes by default; JetStream still
		// survives a process crash (the OS holds the writes), and a machine
		// crash is what a cluster is for.
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	go s.Start() // returns once the server runs; Shutdown stops what it started
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("start embedded nats: not ready after 30s (store %s)", dir)
	}
	return s, nil
}
