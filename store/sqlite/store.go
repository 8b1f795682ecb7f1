// Package sqlite is Starling's embedded store: the same methods as
// store/postgres, on a SQLite file through the pure-Go modernc.org/sqlite
// driver, so that a server runs with nothing else installed. PostgreSQL
// stays the production store; ARCHITECTURE.md says when to move.
//
// Writes go through one connection (see Open), reads through a pool; the
// relay is woken in process after a commit that appended events, where
// PostgreSQL uses LISTEN/NOTIFY. Timestamps are stored as microseconds
// since the Unix epoch, arrays and JSON documents as JSON text.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/starling-social/starling"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is one Starling database file. It is safe for concurrent use by one
// process; two processes must not serve the same file (the relay of each
// would publish the other's events; JetStream's de-duplication would drop
// the copies, but nothing else is designed for it).
type DB struct {
	// write is the one connection every change goes through. SQLite
	// allows one writer at a time whatever the number of connections;
	// with several, writers would meet inside SQLite and wait in its
	// busy handler (sleeping, then retrying), or fail with SQLITE_BUSY
	// when a read transaction tries to become a write one. One connection
	// queues them in database/sql instead, in order, and every write
	// transaction begins IMMEDIATE (_txlock), so it holds the lock from
	// its first statement. busy_timeout still covers a backup or another
	// tool holding the file.
	write *sql.DB
	// read is a pool of read-only connections: in WAL mode readers see
	// the last commit and never wait for the writer.
	read *sql.DB
	path string

	wake waker
}

// Open opens (creating it and its directory if need be) the database file
// at path. Migrate creates the schema.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: no path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create directory of %s: %w", path, err)
		}
	}
	// synchronous FULL: a commit is on disk when it returns, as with
	// PostgreSQL's default; an inbox answers 202 only after its commit,
	// and the sender will not send again. (NORMAL would keep the file
	// consistent but lose the last commits on power loss.)
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(FULL)"} {
		pragmas.Add("_pragma", p)
	}
	wq := url.Values{"_txlock": {"immediate"}}
	for k, v := range pragmas {
		wq[k] = v
	}
	write, err := sql.Open("sqlite", fileURI(path)+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The first connection sets WAL mode, which is stored in the file;
	// ping on the writer before readers open so they find it set.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	rq := url.Values{}
	for k, v := range pragmas {
		rq[k] = v
	}
	rq.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", fileURI(path)+"?"+rq.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(runtime.GOMAXPROCS(0), 2)
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return &DB{write: write, read: read, path: path}, nil
}

// fileURI is path as a SQLite URI filename: the characters a URI gives a
// meaning to are escaped, so that a path with '?', '#' or '%' names the
// file it says.
func fileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Close closes both pools.
func (db *DB) Close() {
	db.read.Close()
	db.write.Close()
}

// Ping checks that the file can be read (readiness).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping embedded store: %w", err)
	}
	return nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Migrate applies every embedded migration not yet applied. One process
// owns the file, and the one writer connection serialises the rest, so no
// lock is taken.
func (db *DB) Migrate(ctx context.Context, logger *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, r := range results {
		logger.Info("applied migration", "source", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// Backup writes a consistent copy of the database to path (which must not
// exist) while the server runs: VACUUM INTO reads one snapshot, and in WAL
// mode writers carry on meanwhile.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("sqlite: backup to %s: %w", path, starling.Errorf(starling.ECONFLICT, "%s exists", path))
	}
	// A connection of its own: the readers are query_only, which refuses
	// VACUUM INTO, and the writer must stay free for the server's writes
	// while the copy is made.
	conn, err := sql.Open("sqlite", fileURI(db.path)+"?"+url.Values{"_pragma": {"busy_timeout(10000)"}}.Encode())
	if err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", path, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?1`, path); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", path, err)
	}
	return nil
}

// waker wakes the listeners of ListenEvents after a commit that appended
// events: the in-process stand-in for PostgreSQL's NOTIFY.
type waker struct {
	mu   sync.Mutex
	next int
	subs map[int]func()
}

func (w *waker) add(fn func()) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.subs == nil {
		w.subs = map[int]func(){}
	}
	w.next++
	w.subs[w.next] = fn
	return w.next
}

func (w *waker) remove(id int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.subs, id)
}

func (w *waker) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fn := range w.subs {
		fn()
	}
}

// tx is a write transaction; it remembers whether events were appended,
// so that the commit wakes the relay.
type tx struct {
	*sql.Tx
	appended bool
}

// inTx runs fn in a write transaction on the writer connection,
// committing when it returns nil. fn must not call db's other write
// methods: there is one writer connection, and it is fn's.
func (db *DB) inTx(ctx context.Context, fn func(tx *tx) error) error {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &tx{Tx: sqlTx}
	defer sqlTx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if err := fn(t); err != nil {
		return classify(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	if t.appended {
		db.wake.notify()
	}
	return nil
}

// ExecContext runs one statement of the transaction, refusing text that
// PostgreSQL would refuse (see checkText) first.
func (t *tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := checkText(args); err != nil {
		return nil, err
	}
	return t.Tx.ExecContext(ctx, q, args...)
}

// QueryRowContext runs a statement of the transaction that returns a row
// (a read, or a write with RETURNING), refusing text as ExecContext does.
func (t *tx) QueryRowContext(ctx context.Context, q string, args ...any) scanner {
	if err := checkText(args); err != nil {
		return errRow{err}
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}

// errRow is a row whose statement was refused before it ran.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// exec runs one statement on the writer and returns the rows it changed.
func (db *DB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if err := checkText(args); err != nil {
		return 0, err
	}
	res, err := db.write.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, classify(err)
	}
	return res.RowsAffected()
}

// sqlStateError is a refusal of a statement for what it was given, with
// the SQLSTATE PostgreSQL gives the same refusal: starling.IsDataError
// reads it through its SQLState method, as it reads pgconn's errors, so
// that the consumers treat both stores' refusals alike (a data error is
// permanent; a unique violation means the row is there).
type sqlStateError struct {
	state string
	err   error
}

func (e *sqlStateError) Error() string    { return e.err.Error() }
func (e *sqlStateError) Unwrap() error    { return e.err }
func (e *sqlStateError) SQLState() string { return e.state }

// classify gives SQLite's constraint and data errors their SQLSTATE.
func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	state := ""
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		state = "23505"
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		state = "23503"
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		state = "23502"
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		state = "23514"
	case sqlite3.SQLITE_TOOBIG:
		state = "22001"
	case sqlite3.SQLITE_MISMATCH:
		state = "22000"
	default:
		if se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
			state = "23000"
		}
	}
	if state == "" {
		return err
	}
	return &sqlStateError{state: state, err: err}
}

// checkText refuses a NUL or invalid UTF-8 in a text argument, as
// PostgreSQL does (SQLSTATE 22021), where SQLite would store either: the
// stores must accept the same data, and a consumer drops such input
// rather than retry it. Binary values are []byte and not checked.
func checkText(args []any) error {
	for _, a := range args {
		s, ok := a.(string)
		if ok && (strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)) {
			return &sqlStateError{state: "22021", err: errors.New("invalid byte sequence for encoding UTF8 (a NUL or invalid UTF-8 in text)")}
		}
	}
	return nil
}

func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// streamOf is an event's stream: the first two tokens of its subject, as
// PostgreSQL's split_part(subject, '.', 1) || '.' || split_part(subject, '.', 2).
func streamOf(subject string) string {
	parts := strings.SplitN(subject, ".", 3)
	if len(parts) == 1 {
		return parts[0] + "."
	}
	return parts[0] + "." + parts[1]
}

// appendEvents writes events into the transactional outbox within tx.
func appendEvents(ctx context.Context, t *tx, events ...starling.Event) error {
	now := time.Now()
	for _, ev := range events {
		headers := ev.Headers
		if headers == nil {
			headers = map[string]string{}
		}
		due := ev.DueAt
		if due.IsZero() {
			due = now
		}
		payload := ev.Payload
		if payload == nil {
			payload = []byte{}
		}
		if _, err := t.ExecContext(ctx,
			`INSERT INTO events (msg_id, subject, stream, payload, headers, due_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
			ev.MsgID, ev.Subject, streamOf(ev.Subject), payload, jsonText(headers), due.UnixMicro()); err != nil {
			return fmt.Errorf("append event %s: %w", ev.Subject, err)
		}
		t.appended = true
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryer is the read pool and the write transactions alike.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// collect scans every row of a query with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{} // empty, not nil, as pgx.CollectRows returns
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanInt64(row scanner) (int64, error) {
	var v int64
	err := row.Scan(&v)
	return v, err
}

func scanString(row scanner) (string, error) {
	var v string
	err := row.Scan(&v)
	return v, err
}

// micro is t as stored: microseconds since the epoch.
func micro(t time.Time) int64 { return t.UnixMicro() }

// microOrNull is t as stored in a nullable column: the zero time is NULL.
func microOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func nowMicro() int64 { return time.Now().UnixMicro() }

// timeDest scans a stored timestamp into t; NULL is the zero time, as
// store/postgres reads coalesce(x, 'epoch') back as the zero time.
type timeDest struct{ t *time.Time }

func ts(t *time.Time) timeDest { return timeDest{t} }

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = time.UnixMicro(v)
	case float64:
		*d.t = time.UnixMicro(int64(v))
	default:
		return fmt.Errorf("scan timestamp: unexpected %T", src)
	}
	return nil
}

// jsonDest scans a JSON text column into v; NULL leaves v as it is.
type jsonDest struct{ v any }

func jsonOf(v any) jsonDest { return jsonDest{v} }

func (d jsonDest) Scan(src any) error {
	switch s := src.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(s), d.v)
	case []byte:
		return json.Unmarshal(s, d.v)
	default:
		return fmt.Errorf("scan json: unexpected %T", src)
	}
}

// jsonText is v as a JSON column or json_each argument takes it.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the store's own types are encoded here, and they all encode.
		panic(fmt.Sprintf("sqlite: encode %T: %v", v, err))
	}
	return string(b)
}

// strs is a list as JSON, never null: nil is an empty array, as the
// NOT NULL array columns of store/postgres take it.
func strs(v []string) string {
	if v == nil {
		return "[]"
	}
	return jsonText(v)
}

func ids(v []int64) string {
	if v == nil {
		return "[]"
	}
	return jsonText(v)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func notFound(err error) bool { return errors.Is(err, sql.ErrNoRows) }
