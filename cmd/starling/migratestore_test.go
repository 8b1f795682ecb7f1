package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

// TestMigrateStore: a server's embedded store, with accounts, a follow,
// posts, a favourite and a token, is copied into a new PostgreSQL
// database; the same server started on PostgreSQL (same address and data
// directory) serves all of it, the token still works, and new posts get
// new ids. Copying into a database that holds accounts is refused and
// changes nothing; a missing or non-PostgreSQL --to is a usage error.
func TestMigrateStore(t *testing.T) {
	a := startEmbedded(t, "A")
	alice, bob := a.user("alice"), a.user("bob")
	a.follow(bob, a.resolve(bob, "alice@"+a.cfg.Domain))
	var ids []string
	for i := range 3 {
		id, err := postStatus(a, alice, "before the move "+strings.Repeat("!", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	a.mustCall("POST", "/api/v1/statuses/"+ids[0]+"/favourite", bob, nil, nil)
	waitFor(t, 10*time.Second, "alice's posts in bob's home feed", func() bool {
		var page []struct{ ID string }
		a.mustCall("GET", "/api/v1/timelines/home", bob, nil, &page)
		return len(page) == 3
	})
	// A remembered refusal (a nullable time in SQLite's microseconds) too.
	refusal := starling.HostSignature{Standard: "rfc9421", Refused: "rfc9421-ed25519",
		RefusedAt: time.Date(2026, 12, 1, 12, 0, 0, 123456000, time.UTC)}
	for host, sig := range map[string]starling.HostSignature{"refuses.example": refusal, "plain.example": {Standard: "draft-cavage"}} {
		if err := a.srv.Store.SetHostSignature(t.Context(), host, sig, true); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.srv.Close(ctx); err != nil {
		t.Fatalf("stop A: %v", err)
	}

	migrate := func(to string) (int, string, string) {
		var out, errOut bytes.Buffer
		args := []string{"admin", "migrate-store", "--data-dir", a.cfg.DataDir, "--domain", a.cfg.Domain}
		if to != "" {
			args = append(args, "--to", to)
		}
		code := run(t.Context(), args, func(string) string { return "" }, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	for _, to := range []string{"", "sqlite:///tmp/x.db"} {
		if code, _, stderr := migrate(to); code != 2 || !strings.Contains(stderr, "--to") {
			t.Errorf("--to %q: exit %d, %s; want 2 naming --to", to, code, stderr)
		}
	}
	pg := pgtest.NewDatabaseURL(t)
	code, stdout, stderr := migrate(pg)
	if code != 0 || !strings.Contains(stdout, "statuses") || !strings.Contains(stdout, "copied") {
		t.Fatalf("migrate-store: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Log(stdout)
	if strings.ContainsAny(stdout, "\r\x1b") {
		t.Errorf("progress not on a terminal should be plain lines: %q", stdout)
	}
	if code, _, stderr := migrate(pg); code != 1 || !strings.Contains(stderr, "already holds") {
		t.Errorf("a second copy into the same database: exit %d, %s; want 1 and a refusal", code, stderr)
	}

	b := startWith(t, "B", func(tb testing.TB, addr string) Config {
		c := embeddedConfig(tb, addr)
		c.DataDir, c.Domain, c.DatabaseURL = a.cfg.DataDir, a.cfg.Domain, pg
		return c
	}, nil)
	b.base = "http://" + b.srv.Addr()
	if b.srv.DB == nil {
		t.Fatal("B does not run on PostgreSQL")
	}
	var home []struct {
		ID              string
		FavouritesCount int  `json:"favourites_count"`
		Favourited      bool `json:"favourited"`
	}
	b.mustCall("GET", "/api/v1/timelines/home", bob, nil, &home) // bob's token, made on the embedded store
	if len(home) != 3 || home[2].ID != ids[0] || home[2].FavouritesCount != 1 || !home[2].Favourited {
		t.Errorf("bob's home feed on PostgreSQL: %+v; want alice's 3 posts, the first favourited by him", home)
	}
	id, err := postStatus(b, alice, "after the move")
	if err != nil {
		t.Fatalf("posting after the move: %v", err)
	}
	if id <= ids[2] && len(id) <= len(ids[2]) {
		t.Errorf("new post id %s is not after %s", id, ids[2])
	}
	sigs, err := b.srv.Store.HostSignatures(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := sigs["refuses.example"]; got.Standard != refusal.Standard || got.Refused != refusal.Refused || !got.RefusedAt.Equal(refusal.RefusedAt) {
		t.Errorf("the refusal on PostgreSQL: %+v, want %+v", got, refusal)
	}
	if got := sigs["plain.example"]; got != (starling.HostSignature{Standard: "draft-cavage"}) {
		t.Errorf("a host without a refusal on PostgreSQL: %+v", got)
	}
	var me struct{ ID string }
	b.mustCall("GET", "/api/v1/accounts/verify_credentials", alice, nil, &me)
	var followers []struct{ Acct string }
	b.mustCall("GET", "/api/v1/accounts/"+me.ID+"/followers", alice, nil, &followers)
	if len(followers) != 1 || followers[0].Acct != "bob" {
		t.Errorf("alice's followers after the move: %+v", followers)
	}
}
