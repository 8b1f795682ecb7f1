package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/starling-social/starling"
)

func openTest(t *testing.T, path string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestOpen: the file is where the path says, whatever its characters;
// the writer and the readers run in WAL mode with foreign keys and full
// synchronous commits; the readers refuse to write.
func TestOpen(t *testing.T) {
	for _, name := range []string{"starling.db", "a dir/with space.db", "odd#dir/what?.db", "pct%20/s.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			db := openTest(t, path)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("the file: %v", err)
			}
			ctx := context.Background()
			for _, pool := range []struct {
				name string
				q    *sql.DB
			}{{"writer", db.write}, {"reader", db.read}} {
				var mode string
				var fk, sync int
				if err := pool.q.QueryRowContext(ctx, `SELECT journal_mode, foreign_keys, synchronous
					FROM pragma_journal_mode, pragma_foreign_keys, pragma_synchronous`).Scan(&mode, &fk, &sync); err != nil {
					t.Fatal(err)
				}
				if mode != "wal" || fk != 1 || sync != 2 {
					t.Errorf("%s: journal_mode %s, foreign_keys %d, synchronous %d; want wal, 1, 2 (FULL)", pool.name, mode, fk, sync)
				}
			}
			if _, err := db.read.ExecContext(ctx, `DELETE FROM accounts`); err == nil {
				t.Error("a reader wrote")
			}
		})
	}
}

// TestListenEvents: a commit that appended events wakes the listeners; a
// commit without events does not, nor does a listener that has stopped.
func TestListenEvents(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "s.db"))
	ctx, cancel := context.WithCancel(context.Background())
	woken := make(chan struct{}, 10)
	done := make(chan error)
	go func() { done <- db.ListenEvents(ctx, func() { woken <- struct{}{} }) }()
	waitListening := time.Now().Add(5 * time.Second)
	for {
		db.wake.mu.Lock()
		n := len(db.wake.subs)
		db.wake.mu.Unlock()
		if n == 1 || time.Now().After(waitListening) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	expect := func(what string, want bool) {
		t.Helper()
		select {
		case <-woken:
			if !want {
				t.Errorf("%s woke the relay", what)
			}
		case <-time.After(100 * time.Millisecond):
			if want {
				t.Errorf("%s did not wake the relay", what)
			}
		}
	}
	ev := starling.Event{MsgID: "1", Subject: "test.events.one", Payload: []byte(`{}`)}
	if err := db.AppendEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	expect("appending an event", true)
	if err := db.MarkInboxGone(ctx, "https://x.test/inbox"); err != nil {
		t.Fatal(err)
	}
	expect("a write without events", false)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenEvents returned %v, want nil", err)
	}
	if err := db.AppendEvents(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	expect("an event after the listener stopped", false)
}

// TestStreamOf: an event's stream is the first two tokens of its subject,
// as PostgreSQL's split_part expression makes it.
func TestStreamOf(t *testing.T) {
	for _, tt := range []struct{ subject, want string }{
		{"starling.outbox.create.123", "starling.outbox"},
		{"starling.timeline", "starling.timeline"},
		{"single", "single."},
		{"", "."},
	} {
		if got := streamOf(tt.subject); got != tt.want {
			t.Errorf("streamOf(%q) = %q, want %q", tt.subject, got, tt.want)
		}
	}
}

// TestConcurrentWriters: writers in many goroutines, a relay draining
// events meanwhile, and a second process's store on the same file (an
// admin command while the server runs) all succeed: the one writer
// connection queues this process's writes, busy_timeout the other's.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := openTest(t, path)
	other := openTest(t, path)
	ctx := context.Background()
	author := storetestAccount(t, db)
	const workers, each = 8, 40
	errs := make(chan error, workers+2)
	var published atomic.Int64
	stop := make(chan struct{})
	relayDone := make(chan struct{})
	go func() { // awaited through relayDone
		defer close(relayDone)
		for {
			n, err := db.RelayEvents(ctx, "test.events", 100, func(context.Context, []starling.Event) error { return nil })
			if err != nil {
				errs <- err
				return
			}
			published.Add(int64(n))
			select {
			case <-stop:
				if n == 0 {
					return
				}
			default:
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		store := db
		if w%4 == 3 {
			store = other // a quarter of the writes come from the other "process"
		}
		wg.Go(func() {
			for i := range each {
				st := &starling.Status{ID: starling.NewID(time.Now()), URI: fmt.Sprintf("https://b.test/s/%d/%d", w, i),
					AccountID: author.ID, Content: "x", Visibility: starling.VisibilityPublic, CreatedAt: time.Now()}
				ev := starling.Event{MsgID: st.URI, Subject: "test.events.created", Payload: []byte(`{}`)}
				if _, err := store.InsertRemoteStatus(ctx, st, ev); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-relayDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := published.Load(); got != workers*each {
		t.Errorf("published %d events, want %d", got, workers*each)
	}
}

func storetestAccount(t *testing.T, db *DB) *starling.Account {
	t.Helper()
	a := &starling.Account{Username: "bob", Domain: "b.test", URI: "https://b.test/users/bob", PublicKeyPEM: "x"}
	got, err := db.UpsertRemoteAccount(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
