package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/api"
	"github.com/starling-social/starling/fanout"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/inbox"
	"github.com/starling-social/starling/media"
	"github.com/starling-social/starling/outbox"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/store/postgres"
	"github.com/starling-social/starling/store/sqlite"
	"github.com/starling-social/starling/timeline"
)

// Store is what this command wires into the components: the union of the
// interfaces they declare, and what serve, admin and this command's tests
// use themselves. Both stores implement it; --database-url chooses one
// (see openStore).
type Store interface {
	api.Store
	api.AdminStore
	federation.AccountStore
	federation.StandardStore
	outbox.Store
	fanout.AudienceStore
	fanout.DeliveryStore
	fanout.ReplayStore
	fanout.ReportStore
	inbox.ProcessStore
	inbox.ReceiveStore
	timeline.Store
	timeline.TrimStore
	queue.EventSource
	queue.Backlog
	queue.FailureRecorder
	media.SweepStore
	api.Roles
	fanout.ControlStore
	fanout.OutcomeBatchStore
	fanout.QueueRecorder
	fanout.DeliveryTrimmer
	fanout.DeliveryStates
	fanout.OperatorStore
	fanout.SampleStore
	api.RemoteMediaStore
	media.RemoteStore

	AccountByAcct(ctx context.Context, username, domain string) (*starling.Account, error)
	SigningKeys(ctx context.Context, accountID int64) (starling.SigningKeys, error)
	AppendEvents(ctx context.Context, events ...starling.Event) error
	FailingHosts(ctx context.Context) ([]starling.HostHealth, error)
	DeadLetters(ctx context.Context, f starling.DeadLetterFilter) ([]starling.DeadLetter, error)
	Migrate(ctx context.Context, logger *slog.Logger) error
	Close()

	// What this command's tests read of the store, on either store.
	SigningKey(ctx context.Context, accountID int64) (keyID, pem string, err error)
	CountInboxActivities(ctx context.Context, uri string) (int, error)
	CountFeedEntries(ctx context.Context, accountID, statusID int64) (int, error)
}

// Both stores satisfy Store: checked when this command builds.
var (
	_ Store = (*postgres.DB)(nil)
	_ Store = (*sqlite.DB)(nil)
)

// DefaultDatabaseFile is the embedded store's file under --data-dir, used
// when --database-url is empty.
const DefaultDatabaseFile = "starling.db"

// storeLocation is what --database-url names: a PostgreSQL URL, or the
// path of an embedded store's file.
type storeLocation struct {
	postgresURL string
	sqlitePath  string
}

// parseDatabaseURL reads --database-url: a postgres:// (or postgresql://)
// URL is PostgreSQL; empty is the embedded store in dataDir; sqlite:///path
// or file:path is the embedded store at path.
func parseDatabaseURL(raw, dataDir string) (storeLocation, error) {
	switch {
	case raw == "":
		return storeLocation{sqlitePath: filepath.Join(dataDir, DefaultDatabaseFile)}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return storeLocation{postgresURL: raw}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		if p := strings.TrimPrefix(raw, "sqlite://"); p != "" {
			return storeLocation{sqlitePath: p}, nil
		}
	case strings.HasPrefix(raw, "file:"):
		if p, _, _ := strings.Cut(strings.TrimPrefix(raw, "file:"), "?"); p != "" {
			return storeLocation{sqlitePath: p}, nil
		}
	}
	return storeLocation{}, fmt.Errorf("--database-url %q: want postgres://…, sqlite:///path, file:path, or empty for %s under --data-dir",
		postgres.RedactURL(raw), DefaultDatabaseFile)
}

// openStore opens the store cfg names and migrates it. pg is the same
// store when it is PostgreSQL (benchmarks and tests reach its pool), nil
// for the embedded one.
func openStore(ctx context.Context, cfg *Config, logger *slog.Logger) (s Store, pg *postgres.DB, err error) {
	loc, err := parseDatabaseURL(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	if loc.postgresURL != "" {
		if pg, err = postgres.Open(ctx, loc.postgresURL); err != nil {
			return nil, nil, err
		}
		s = pg
	} else {
		if s, err = sqlite.Open(ctx, loc.sqlitePath); err != nil {
			return nil, nil, err
		}
		logger.Info("using the embedded store", "file", loc.sqlitePath)
	}
	if err := s.Migrate(ctx, logger); err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, pg, nil
}

// withStore opens and migrates the store, runs fn, and closes it.
func withStore(ctx context.Context, cfg *Config, logger *slog.Logger, fn func(Store) error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, _, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	// Every subcommand checks (or, on a new database, records) the scheme
	// and domain, so none mints an account with another address.
	if err := admin(cfg, s).EnsureInstanceActor(ctx); err != nil {
		return err
	}
	return fn(s)
}
