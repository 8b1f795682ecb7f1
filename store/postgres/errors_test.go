package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

// TestIsDataError asks PostgreSQL itself for each kind of refusal, so the
// SQLSTATE classes are the server's, not what we think they are.
func TestIsDataError(t *testing.T) {
	db := pgtest.NewDB(t)
	author := mustAccount(t, db, "remote", "remote.example")
	status := func(uri, content string, accountID int64) *starling.Status {
		return &starling.Status{ID: starling.NewID(time.Now()), URI: uri, URL: uri, AccountID: accountID,
			Content: content, Visibility: starling.VisibilityPublic, CreatedAt: time.Now()}
	}
	if _, err := db.InsertRemoteStatus(t.Context(), status("https://remote.example/s/1", "ok", author.ID)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  func() error
		want bool
	}{
		{"NUL in text (22021)", func() error {
			_, err := db.InsertRemoteStatus(t.Context(), status("https://remote.example/s/2", "a\x00b", author.ID))
			return err
		}, true},
		{"invalid UTF-8 (22021)", func() error {
			_, err := db.InsertRemoteStatus(t.Context(), status("https://remote.example/s/3", "a\xffb", author.ID))
			return err
		}, true},
		{"foreign key (23503)", func() error {
			_, err := db.InsertRemoteStatus(t.Context(), status("https://remote.example/s/4", "x", 1))
			return err
		}, true},
		{"unique violation (23505) means already there", func() error {
			_, err := db.Pool().Exec(t.Context(), `INSERT INTO statuses (id, uri, url, account_id, local, content,
				spoiler_text, sensitive, visibility, created_at) VALUES ($1, 'https://remote.example/s/1', '', $2,
				false, '', '', false, 'public', now())`, starling.NewID(time.Now()), author.ID)
			return err
		}, false},
		{"not a database error", func() error { return errors.New("network down") }, false},
		{"nil", func() error { return nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if tt.want && err == nil {
				t.Fatal("PostgreSQL accepted it")
			}
			if got := starling.IsDataError(err); got != tt.want {
				t.Errorf("IsDataError(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}
