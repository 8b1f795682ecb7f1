// Package pgtest gives each test a fresh PostgreSQL database on the real
// server. There are no mocks of the store: where PostgreSQL does not answer,
// the test fails and says how to start it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/starling-social/starling/store/postgres"
)

// DefaultAdminURL is where tests look for PostgreSQL unless
// STARLING_TEST_DATABASE_URL says otherwise.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// AdminURL returns the URL of the database tests connect to to create their own.
func AdminURL() string {
	if u := os.Getenv("STARLING_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// NewDatabaseURL creates an empty database for tb, drops it when tb ends,
// and returns its URL.
func NewDatabaseURL(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := AdminURL()
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		tb.Fatalf("STARLING_TEST_DATABASE_URL %q: %v", admin, err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("PostgreSQL is required for this test and is not reachable at %s: %v\n"+
			"Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "+
			"or point STARLING_TEST_DATABASE_URL at a server with trust auth.", postgres.RedactURL(admin), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "starling_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			tb.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil || u.Scheme == "" {
		return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	}
	u.Path = "/" + name
	return u.String()
}

// NewDB returns an open, migrated store on a fresh database.
func NewDB(tb testing.TB) *postgres.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, NewDatabaseURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		tb.Fatal(err)
	}
	return db
}
