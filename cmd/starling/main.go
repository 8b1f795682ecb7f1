// Command starling runs a Starling server and administers it.
//
//	starling serve                      run every role, or those --roles names
//	starling migrate                    apply database migrations
//	starling admin account create ...   create a local account
//	starling admin token create ...     print an API token for an account
//	starling admin backup FILE          copy the embedded store while it serves
//
// Every subcommand reads the same configuration, from flags or from the
// STARLING_* environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/fanout"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/outbox"
	"github.com/starling-social/starling/queue"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: starling <command> [flags]

commands:
  serve                   run the server: every role (api, inbox, fanout, timeline), or
                          those --roles names; --stream-replicas 3 on a NATS cluster
  demo                    three federating servers in this process, a post and its path [--duration D]
  migrate                 apply database migrations
  admin account create    create a local account: --username U --email E --password P [--admin]
  admin account role      give or take the admin role (admin:* scopes): --username U --admin=true|false
  admin account rotate-key  a new Ed25519 key, announced with an Update of the actor: --username U
  admin token create      print an API token: --username U --scopes "read write follow push"
  admin backup FILE       copy the embedded store to FILE while the server runs
  admin migrate-store     copy the embedded store into a new PostgreSQL database: --to postgres://…
                          (stop the server first; then serve with --database-url)
  admin deliveries show   failing hosts and dead letters, and what to do [--host H]
  admin deliveries replay queue dead letters again: --host H or --id N
  admin backlog           the host table: pending, oldest, attempts, next attempt, errors, state
                          [--host H] [--filter failing|unavailable|paused|suspended] [--limit N] [--json]
                          [--watch 2s: refresh in place]
  admin trace STATUS_ID   every destination inbox of a post, with its state [--json]
  admin host ACTION HOST  ACTION: pause, resume, retry (now), purge (into dead letters),
                          clear (failure state), suspend, unsuspend (a domain: nothing out or in)
  admin deadletters list  dead letters not yet replayed [--host H] [--status ID] [--json]
  admin deadletters replay queue them again: --host H, --status ID, --id N or --all
  admin actions           the audit of operator actions [--limit N] [--json]
  healthcheck [URL]       exit 0 if URL (default http://127.0.0.1:8080/healthz) answers 2xx:
                          for container health checks in an image without a shell
  bench deliver           load test: a simulated fleet of remote servers on loopback (see -h)
  bench sign              time one RSA-2048 signature of a delivery on this machine

Run 'starling <command> -h' for the flags of a command. Every flag can also
be set with STARLING_<FLAG>, e.g. STARLING_DATABASE_URL.
`

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	if cmd == "bench" {
		benches := map[string]func() error{
			"deliver": func() error { return benchDeliver(ctx, rest[1:], stdout, stderr) },
			"sign":    func() error { return benchSign(rest[1:], stdout, stderr) },
		}
		if len(rest) == 0 || benches[rest[0]] == nil {
			fmt.Fprintf(stderr, "starling bench: want 'starling bench deliver [flags]' or 'starling bench sign [flags]'\n")
			return 2
		}
		if err := benches[rest[0]](); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(stderr, "starling bench %s: %v\n", rest[0], err)
			return 1
		}
		return 0
	}
	if cmd == "demo" {
		if err := runDemo(ctx, rest, stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(stderr, "starling demo: %v\n", err)
			return 1
		}
		return 0
	}
	if cmd == "healthcheck" {
		return healthcheck(ctx, rest, stderr)
	}
	if cmd == "admin" && len(rest) == 1 && rest[0] == "deliveries" {
		rest = append(rest, "show")
	}
	if cmd == "admin" && len(rest) >= 2 && rest[0] == "deliveries" && strings.HasPrefix(rest[1], "-") {
		rest = append([]string{"deliveries", "show"}, rest[1:]...)
	}
	if cmd == "admin" && len(rest) >= 1 {
		switch rest[0] {
		case "backup", "backlog", "trace", "actions", "migrate-store":
			cmd, rest = "admin "+rest[0], rest[1:]
		}
	}
	if cmd == "admin" {
		if len(rest) < 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		cmd, rest = "admin "+rest[0]+" "+rest[1], rest[2:]
	}
	var cfg Config
	fs := flag.NewFlagSet("starling "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	envErrs := cfg.register(fs, getenv)
	var username, email, password, scopes, host, backupFile, migrateTo string
	var isAdmin bool
	var ids idList
	var op operatorArgs
	operatorCmd := true
	switch cmd {
	case "admin backlog":
		fs.BoolVar(&op.json, "json", false, "print JSON")
		fs.StringVar(&op.host, "host", "", "only this host")
		fs.StringVar(&op.filter, "filter", "", "only hosts failing, unavailable, paused or suspended")
		fs.IntVar(&op.limit, "limit", 100, "at most this many hosts")
		fs.DurationVar(&op.watch, "watch", 0, "refresh every this long (e.g. 2s), in place on a terminal")
	case "admin trace":
		fs.BoolVar(&op.json, "json", false, "print JSON")
	case "admin actions":
		fs.BoolVar(&op.json, "json", false, "print JSON")
		fs.IntVar(&op.limit, "limit", 50, "at most this many actions")
	case "admin host pause", "admin host resume", "admin host retry", "admin host purge", "admin host clear",
		"admin host suspend", "admin host unsuspend":
	case "admin deadletters list":
		fs.BoolVar(&op.json, "json", false, "print JSON")
		fs.StringVar(&op.host, "host", "", "only dead letters to this host")
		fs.Int64Var(&op.statusID, "status", 0, "only dead letters of this status")
		fs.IntVar(&op.limit, "limit", 100, "at most this many")
	case "admin deadletters replay":
		fs.StringVar(&op.host, "host", "", "only dead letters to this host")
		fs.Int64Var(&op.statusID, "status", 0, "only dead letters of this status")
		fs.Var(&op.ids, "id", "only this dead letter (repeatable)")
		fs.BoolVar(&op.all, "all", false, "every dead letter not yet replayed")
	default:
		operatorCmd = false
	}
	switch cmd {
	case "admin backlog", "admin trace", "admin actions", "admin deadletters list", "admin deadletters replay":
	case "admin host pause", "admin host resume", "admin host retry", "admin host purge", "admin host clear",
		"admin host suspend", "admin host unsuspend":
	case "serve", "migrate":
	case "admin backup":
		// The file comes before the flags or after them.
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			backupFile, rest = rest[0], rest[1:]
		}
	case "admin deliveries show", "admin deliveries replay":
		fs.StringVar(&host, "host", "", "only dead letters to this host")
		fs.Var(&ids, "id", "only this dead letter (repeatable)")
	case "admin account create":
		fs.StringVar(&username, "username", "", "username of the new account")
		fs.StringVar(&email, "email", "", "email address")
		fs.StringVar(&password, "password", "", "password (at least 8 characters)")
		fs.BoolVar(&isAdmin, "admin", false, "give the account the admin role")
	case "admin account role":
		fs.StringVar(&username, "username", "", "local account")
		fs.BoolVar(&isAdmin, "admin", true, "admin role: true to give, false to take")
	case "admin migrate-store":
		fs.StringVar(&migrateTo, "to", "", "postgres:// URL of the new, empty database to copy the embedded store into")
	case "admin account rotate-key":
		fs.StringVar(&username, "username", "", "local account whose Ed25519 key to replace")
	case "admin token create":
		fs.StringVar(&username, "username", "", "local account the token acts for")
		fs.StringVar(&scopes, "scopes", "read write follow push", "space-separated OAuth scopes")
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "starling: unknown command %q\n\n%s", strings.Join(args[:min(len(args), 3)], " "), usage)
		return 2
	}
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if !operatorCmd || fs.NArg() == 0 {
			break
		}
		// Operator commands take arguments (STATUS_ID, HOST) among their flags.
		op.args, rest = append(op.args, fs.Arg(0)), fs.Args()[1:]
	}
	if cmd == "admin backup" && backupFile == "" && fs.NArg() == 1 {
		backupFile = fs.Arg(0)
		_ = fs.Parse(nil) // fs.Args is now empty
	}
	if cmd == "admin backup" && backupFile == "" {
		fmt.Fprintf(stderr, "starling %s: name the file to write: starling admin backup FILE\n", cmd)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "starling %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 2
	}
	if err := errors.Join(envErrs.err(), cfg.validate()); err != nil {
		fmt.Fprintf(stderr, "starling %s: %v\n", cmd, err)
		return 2
	}
	logger, err := newLogger(&cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "starling %s: %v\n", cmd, err)
		return 2
	}
	switch cmd {
	case "serve":
		cfg.applyRuntime()
		err = serve(ctx, &cfg, logger)
	case "migrate":
		err = withStore(ctx, &cfg, logger, func(Store) error { return nil })
	case "admin account create":
		err = withStore(ctx, &cfg, logger, func(db Store) error {
			a, err := admin(&cfg, db).CreateAccount(ctx, username, email, password)
			if err != nil {
				return err
			}
			if isAdmin {
				if err := admin(&cfg, db).SetRole(ctx, username, true); err != nil {
					return err
				}
			}
			fmt.Fprintf(stdout, "created %s (id %d)%s\n", a.URI, a.ID, map[bool]string{true: ", admin"}[isAdmin])
			return nil
		})
	case "admin account role":
		err = withStore(ctx, &cfg, logger, func(db Store) error {
			if err := admin(&cfg, db).SetRole(ctx, username, isAdmin); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: admin %v\n", username, isAdmin)
			return nil
		})
	case "admin account rotate-key":
		err = withStore(ctx, &cfg, logger, func(db Store) error {
			return rotateKey(ctx, &cfg, db, username, stdout)
		})
	case "admin deliveries show":
		err = withStore(ctx, &cfg, logger, func(db Store) error {
			return showDeliveries(ctx, db, host, stdout)
		})
	case "admin deliveries replay":
		err = withStore(ctx, &cfg, logger, func(db Store) error {
			topo, err := queue.NewTopology(cfg.NATSPrefix)
			if err != nil {
				return err
			}
			if host == "" && len(ids) == 0 {
				return &api.ValidationError{Msg: "name what to replay: --host H or --id N"}
			}
			n, err := fanout.ReplayDeadLetters(ctx, db, topo, starling.DeadLetterFilter{Host: host, IDs: ids, Limit: 100_000})
			if err == nil {
				fmt.Fprintf(stdout, "queued %d dead letters again\n", n)
			}
			return err
		})
	case "admin migrate-store":
		err = migrateStore(ctx, &cfg, migrateTo, logger, stdout)
	case "admin backup":
		err = withStore(ctx, &cfg, logger, func(db Store) error {
			b, ok := db.(interface {
				Backup(ctx context.Context, path string) error
			})
			if !ok {
				return &api.ValidationError{Msg: "admin backup copies the embedded store; back PostgreSQL up with pg_dump (see README, Backups)"}
			}
			if err := b.Backup(ctx, backupFile); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %s\n", backupFile)
			return nil
		})
	case "admin backlog", "admin trace", "admin actions", "admin deadletters list", "admin deadletters replay",
		"admin host pause", "admin host resume", "admin host retry", "admin host purge", "admin host clear",
		"admin host suspend", "admin host unsuspend":
		err = withStore(ctx, &cfg, logger, func(db Store) error {
			o, err := operatorFor(&cfg, db)
			if err != nil {
				return err
			}
			actor := cliActor(getenv)
			switch words := strings.Fields(cmd); words[1] {
			case "backlog":
				if op.watch != 0 {
					return watchBacklog(ctx, o, op, stdout)
				}
				return showBacklog(ctx, o, op, stdout)
			case "trace":
				return showTrace(ctx, o, op, stdout)
			case "actions":
				return showActions(ctx, o, op, stdout)
			case "host":
				return hostAction(ctx, o, actor, words[2], op, stdout)
			default:
				return deadLetters(ctx, o, actor, words[2], op, stdout)
			}
		})
	case "admin token create":
		err = withStore(ctx, &cfg, logger, func(db Store) error {
			token, err := admin(&cfg, db).CreateToken(ctx, username, scopes)
			if err == nil {
				fmt.Fprintln(stdout, token)
			}
			return err
		})
	}
	if err != nil {
		fmt.Fprintf(stderr, "starling %s: %v\n", cmd, err)
		var ve *api.ValidationError
		if errors.As(err, &ve) || starling.ErrorCode(err) == starling.EINVALID {
			return 2
		}
		return 1
	}
	return 0
}

func newLogger(cfg *Config, w io.Writer) (*slog.Logger, error) {
	level, err := cfg.logLevel()
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func site(cfg *Config) federation.Site {
	return federation.Site{Scheme: cfg.Protocol, Host: strings.ToLower(cfg.Domain), MediaBase: strings.TrimSuffix(cfg.MediaBaseURL, "/")}
}

// rotateKey gives username a new Ed25519 key and queues the Update of its
// actor; the relay of a running server (or the next to start) publishes
// it, and its deliveries sign with the new key.
func rotateKey(ctx context.Context, cfg *Config, db Store, username string, stdout io.Writer) error {
	if username == "" {
		return errors.New("name the account: --username U")
	}
	topo, err := queue.NewTopology(cfg.NATSPrefix)
	if err != nil {
		return err
	}
	a, err := db.AccountByAcct(ctx, username, "")
	if err != nil {
		return fmt.Errorf("account %s: %w", username, err)
	}
	ob := &outbox.Outbox{Store: db, Site: site(cfg), Topology: topo, Keys: db}
	if _, err := ob.RotateEd25519Key(ctx, a); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: new Ed25519 key %s; its followers' servers get an Update of the actor\n", username, a.Ed25519KeyID)
	return nil
}

func admin(cfg *Config, db Store) *api.Admin {
	return &api.Admin{Store: db, Site: site(cfg)}
}
