// Command starling runs a Starling server and administers it.
//
//	starling serve                      run every role in one process
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
  serve                   run the server (api, inbox, fanout, timeline) in one process
  demo                    three federating servers in this process, a post and its path [--duration D]
  migrate                 apply database migrations
  admin account create    create a local account: --username U --email E --password P
  admin token create      print an API token: --username U --scopes "read write follow push"
  admin backup FILE       copy the embedded store to FILE while the server runs
  admin deliveries show   failing hosts and dead letters, and what to do [--host H]
  admin deliveries replay queue dead letters again: --host H or --id N
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
	if cmd == "admin" && len(rest) == 1 && rest[0] == "deliveries" {
		rest = append(rest, "show")
	}
	if cmd == "admin" && len(rest) >= 2 && rest[0] == "deliveries" && strings.HasPrefix(rest[1], "-") {
		rest = append([]string{"deliveries", "show"}, rest[1:]...)
	}
	if cmd == "admin" && len(rest) >= 1 && rest[0] == "backup" {
		cmd, rest = "admin backup", rest[1:]
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
	var username, email, password, scopes, host, backupFile string
	var ids idList
	switch cmd {
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
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
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
			if err == nil {
				fmt.Fprintf(stdout, "created %s (id %d)\n", a.URI, a.ID)
			}
			return err
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
		if errors.As(err, &ve) {
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

func admin(cfg *Config, db Store) *api.Admin {
	return &api.Admin{Store: db, Site: site(cfg)}
}
