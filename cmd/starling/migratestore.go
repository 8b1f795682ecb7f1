package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/store/postgres"
	"github.com/starling-social/starling/store/sqlite"
)

// migrateStore copies the embedded store (--database-url as serve reads
// it: empty for the one under --data-dir, or sqlite://PATH) into a new,
// empty PostgreSQL database named by to, in one transaction: every table
// in the order of its foreign keys, then the sequences. The server must
// be stopped; afterwards it starts with --database-url set to to (and the
// same --data-dir, whose embedded NATS still holds the queued work).
func migrateStore(ctx context.Context, cfg *Config, to string, logger *slog.Logger, stdout io.Writer) error {
	dst, err := parseDatabaseURL(to, cfg.DataDir)
	if err != nil || dst.postgresURL == "" {
		return &api.ValidationError{Msg: "--to must be a postgres:// URL of the database to fill"}
	}
	src, err := parseDatabaseURL(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	if src.sqlitePath == "" {
		return &api.ValidationError{Msg: "migrate-store copies the embedded store; --database-url names PostgreSQL already"}
	}
	if _, err := os.Stat(src.sqlitePath); errors.Is(err, os.ErrNotExist) {
		return &api.ValidationError{Msg: fmt.Sprintf("no embedded store at %s (set --data-dir)", src.sqlitePath)}
	}
	from, err := sqlite.Open(ctx, src.sqlitePath)
	if err != nil {
		return err
	}
	defer from.Close()
	// Both at the newest schema, so that their tables match.
	if err := from.Migrate(ctx, logger); err != nil {
		return err
	}
	into, err := postgres.Open(ctx, dst.postgresURL)
	if err != nil {
		return err
	}
	defer into.Close()
	if err := into.Migrate(ctx, logger); err != nil {
		return err
	}
	tables, err := into.ImportTables(ctx)
	if err != nil {
		return err
	}
	for _, t := range tables {
		have, err := from.Columns(ctx, t.Name)
		if err != nil {
			return err
		}
		if len(have) == 0 {
			return fmt.Errorf("the embedded store has no table %s: are both stores of the same Starling version?", t.Name)
		}
		for _, c := range t.Columns {
			if !slices.Contains(have, c) {
				return fmt.Errorf("the embedded store's %s has no column %s: are both stores of the same Starling version?", t.Name, c)
			}
		}
	}
	fmt.Fprintf(stdout, "copying %s into PostgreSQL (%d tables, one transaction)\n", src.sqlitePath, len(tables))
	tty := isTerminal(stdout)
	counts, err := into.Import(ctx, tables, func(t postgres.ImportTable, emit func([]any) error) error {
		return from.Export(ctx, t.Name, t.Columns, emit)
	}, func(table string, copied int64, done bool) {
		switch {
		case tty && !done: // a progress line, rewritten in place
			fmt.Fprintf(stdout, "\r  %-24s %d rows…", table, copied)
		case done && tty:
			fmt.Fprintf(stdout, "\r  %-24s %d\x1b[K\n", table, copied)
		case done && copied > 0: // plain lines, one per table, for logs and pipes
			fmt.Fprintf(stdout, "  %-24s %d\n", table, copied)
		}
	})
	if err != nil {
		if tty {
			fmt.Fprintln(stdout)
		}
		return err
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	fmt.Fprintf(stdout, "copied %d rows. Start the server with --database-url %s (and the same --data-dir).\n",
		total, redactURL(dst.postgresURL))
	return nil
}

// redactURL hides a password in a database URL before it is printed.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return raw
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return raw
}
