package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// privatePostgres is a PostgreSQL server of one test's own, in a
// directory of its own on a port of its own, so that the test can crash
// it (pg_ctl stop -m immediate) and start it again on the same port and
// data, as a restart or a failover looks to Starling.
type privatePostgres struct {
	t    *testing.T
	bin  string // directory of initdb and pg_ctl
	dir  string // data directory, also the socket directory
	port int
	cred *syscall.Credential // run as this user: PostgreSQL refuses to run as root
}

// postgresBinDir finds initdb and pg_ctl: STARLING_TEST_PG_BIN, the
// newest /usr/lib/postgresql/*/bin (Debian), or PATH.
func postgresBinDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("STARLING_TEST_PG_BIN"); d != "" {
		return d
	}
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		return dirs[len(dirs)-1]
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p)
	}
	t.Fatal("this test runs a PostgreSQL server of its own and found no initdb and pg_ctl: install PostgreSQL's server " +
		"(Debian: postgresql) or point STARLING_TEST_PG_BIN at the directory holding them")
	return ""
}

// startPrivatePostgres initialises a data directory, starts PostgreSQL on
// a free loopback port with trust authentication, and stops it (at once)
// when the test ends.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	p := &privatePostgres{t: t, bin: postgresBinDir(t), port: freePort(t)}
	// Not t.TempDir: its parents are private to the test's user, and as
	// root the server runs as postgres, which must reach its directory.
	dir, err := os.MkdirTemp("", "starling-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs another user to run as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p.run("initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	p.start()
	t.Cleanup(p.crash)
	return p
}

func (p *privatePostgres) run(name string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	cmd.Dir = p.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// start starts the server and waits until it accepts connections.
func (p *privatePostgres) start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", p.port, p.dir)
	p.run("pg_ctl", "start", "-w", "-t", "60", "-D", p.dir, "-l", filepath.Join(p.dir, "server.log"), "-o", opts)
}

// crash stops the server as a crash would: every process killed, no
// checkpoint (recovery replays the WAL at the next start).
func (p *privatePostgres) crash() {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, "pg_ctl"), "stop", "-m", "immediate", "-w", "-D", p.dir)
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	_ = cmd.Run() // already stopped is fine
}

// URL is a database URL on the server; Starling creates the database on
// first start.
func (p *privatePostgres) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, database)
}
