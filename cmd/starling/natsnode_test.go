package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsNodeEnv, set in a child's environment, makes the test binary run
// one nats-server (the JSON of a natsNodeConfig) instead of the tests:
// the same nats-server as Starling embeds, in a process of its own, so
// that a test can kill it with SIGKILL (a crash, nothing flushed) and
// start it again on the same port and store.
const natsNodeEnv = "STARLING_TEST_NATS_NODE"

// natsNodeConfig is one nats-server with JetStream, alone or in a cluster.
type natsNodeConfig struct {
	Name        string   `json:"name"`
	Port        int      `json:"port"`
	ClusterPort int      `json:"cluster_port,omitempty"` // 0: not clustered
	Routes      []string `json:"routes,omitempty"`       // the other nodes' cluster URLs
	StoreDir    string   `json:"store_dir"`
}

// runNATSNode runs the server spec describes until the process is killed.
func runNATSNode(spec string) {
	var c natsNodeConfig
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", natsNodeEnv, err)
		os.Exit(2)
	}
	opts := &server.Options{ServerName: c.Name, Host: "127.0.0.1", Port: c.Port, JetStream: true, StoreDir: c.StoreDir, NoSigs: true}
	if c.ClusterPort != 0 {
		opts.Cluster = server.ClusterOpts{Name: "starling-test", Host: "127.0.0.1", Port: c.ClusterPort}
		opts.Routes = server.RoutesFromStr(strings.Join(c.Routes, ","))
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nats node %s: %v\n", c.Name, err)
		os.Exit(1)
	}
	s.ConfigureLogger()
	s.Start()
	s.WaitForShutdown()
	os.Exit(0)
}

// natsNode is a nats-server in a child process.
type natsNode struct {
	t   *testing.T
	cfg natsNodeConfig
	cmd *exec.Cmd
	log *os.File
}

// freePort returns a loopback port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// URL is the node's client URL.
func (n *natsNode) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(n.cfg.Port) }

// start runs the node and waits until it accepts connections.
func (n *natsNode) start() {
	n.t.Helper()
	spec, _ := json.Marshal(n.cfg)
	if n.log == nil {
		f, err := os.Create(filepath.Join(n.t.TempDir(), n.cfg.Name+".log"))
		if err != nil {
			n.t.Fatal(err)
		}
		n.log = f
	}
	n.cmd = exec.Command(os.Args[0])
	n.cmd.Env = append(os.Environ(), natsNodeEnv+"="+string(spec))
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("start nats node %s: %v", n.cfg.Name, err)
	}
	waitFor(n.t, 30*time.Second, "nats node "+n.cfg.Name+" to listen", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(n.cfg.Port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// kill crashes the node (SIGKILL) and reaps it.
func (n *natsNode) kill() {
	n.t.Helper()
	if n.cmd == nil || n.cmd.ProcessState != nil {
		return
	}
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatalf("kill nats node %s: %v", n.cfg.Name, err)
	}
	_ = n.cmd.Wait()
}

// startNATSNode starts one nats-server with JetStream on a free port,
// storing under a directory of the test, killed when the test ends.
func startNATSNode(t *testing.T) *natsNode {
	t.Helper()
	n := &natsNode{t: t, cfg: natsNodeConfig{Name: "nats-single", Port: freePort(t), StoreDir: t.TempDir()}}
	n.start()
	t.Cleanup(n.kill)
	return n
}

// startNATSCluster starts a cluster of size nodes on loopback, each with
// its own store, and waits until JetStream answers (a meta leader is
// elected). They are killed when the test ends.
func startNATSCluster(t *testing.T, size int) []*natsNode {
	t.Helper()
	nodes := make([]*natsNode, size)
	for i := range nodes {
		nodes[i] = &natsNode{t: t, cfg: natsNodeConfig{Name: fmt.Sprintf("nats-%d", i), Port: freePort(t), ClusterPort: freePort(t), StoreDir: t.TempDir()}}
	}
	for _, n := range nodes {
		for _, o := range nodes {
			if o != n {
				n.cfg.Routes = append(n.cfg.Routes, "nats://127.0.0.1:"+strconv.Itoa(o.cfg.ClusterPort))
			}
		}
	}
	for _, n := range nodes {
		n.start()
		t.Cleanup(n.kill)
	}
	nc, err := nats.Connect(natsURLs(nodes))
	if err != nil {
		t.Fatalf("connect to the nats cluster: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the nats cluster to elect a JetStream meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return nodes
}

// natsURLs is the comma-separated client URLs of nodes, as --nats-url takes them.
func natsURLs(nodes []*natsNode) string {
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}
