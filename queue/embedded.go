package queue

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// StartEmbedded starts an in-process nats-server with JetStream storing
// under dir. It listens on no port: the single-binary mode talks to it in
// process. The caller shuts it down with Shutdown and WaitForShutdown.
func StartEmbedded(dir string) (*server.Server, error) {
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
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("start embedded nats: not ready after 30s (store %s)", dir)
	}
	return s, nil
}

// Connect connects to url, or in process to embedded when url is empty.
func Connect(url string, embedded *server.Server, name string) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
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
	return nc, nil
}
