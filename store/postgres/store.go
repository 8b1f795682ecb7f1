// Package postgres is Starling's PostgreSQL store of truth: the schema and its
// migrations, the connection pool, and one file of queries per domain.
//
// The store knows nothing of the components that use it. Each consumer
// (outbox, fanout, inbox, timeline, api) declares the small interface it
// needs and *DB satisfies it; ARCHITECTURE.md says which package owns which
// table. Methods that change state and must tell another component about it
// take the event to append, so the change and its event commit together.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/starling-social/starling"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a pool of connections to one Starling database. It is safe for
// concurrent use.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to the database at url, creating the database first if the
// server is reachable but the database does not exist yet (a fresh machine).
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	err = pool.Ping(ctx)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" { // invalid_catalog_name
		pool.Close()
		if err := createDatabase(ctx, cfg.ConnConfig); err != nil {
			return nil, err
		}
		if pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		err = pool.Ping(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %q on %s:%d: %w", cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &DB{pool: pool}, nil
}

func createDatabase(ctx context.Context, target *pgx.ConnConfig) error {
	admin := target.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to create database %q: %w", target.Database, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{target.Database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: another process won
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", target.Database, err)
	}
	return nil
}

// Close closes every connection in the pool.
func (db *DB) Close() { db.pool.Close() }

// Pool exposes the pgx pool for benchmarks and tests.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that PostgreSQL answers (readiness).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Migrate applies every embedded migration not yet applied. A PostgreSQL
// session lock makes concurrent starts of several processes safe.
func (db *DB) Migrate(ctx context.Context, logger *slog.Logger) error {
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	return migrate(ctx, sqlDB, logger)
}

func migrate(ctx context.Context, sqlDB *sql.DB, logger *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true),
		// Apply every migration not yet applied, whatever its number, as
		// Rails does: work merged from parallel branches lands with lower
		// numbers than migrations a database may already have.
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		logger.Info("applied migration", "source", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// RedactURL returns dsn with any password removed, for logs and errors.
func RedactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// appendEvents writes events into the transactional outbox within tx.
func appendEvents(ctx context.Context, tx pgx.Tx, events ...starling.Event) error {
	for _, ev := range events {
		headers := ev.Headers
		if headers == nil {
			headers = map[string]string{}
		}
		var due any
		if !ev.DueAt.IsZero() {
			due = ev.DueAt
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO events (msg_id, subject, payload, headers, due_at) VALUES ($1, $2, $3, $4, coalesce($5, now()))`,
			ev.MsgID, ev.Subject, ev.Payload, headers, due); err != nil {
			return fmt.Errorf("append event %s: %w", ev.Subject, err)
		}
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
