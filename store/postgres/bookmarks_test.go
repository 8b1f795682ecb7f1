package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

func TestMarkers(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	bob := mustAccount(t, db, "bob", "")
	for i, n := range []int64{10, 20, 15} {
		m := must(db.SaveMarker(ctx, alice.ID, "home", n))
		if m.LastReadID != n || m.Version != i {
			t.Errorf("save %d: %+v, want version %d", n, m, i)
		}
	}
	must(db.SaveMarker(ctx, alice.ID, "notifications", 3))
	got := must(db.Markers(ctx, alice.ID))
	if len(got) != 2 || got["home"].LastReadID != 15 || got["home"].Version != 2 || got["notifications"].Version != 0 {
		t.Errorf("alice's markers %+v", got)
	}
	if got := must(db.Markers(ctx, bob.ID)); len(got) != 0 {
		t.Errorf("bob's markers %+v", got)
	}
}

func TestThread(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	bob := mustAccount(t, db, "bob", "b.test")
	ids := map[string]int64{}
	// root ← a ← a1, a ← a2 (deleted) ← a2x, root ← b; orphan replies to an unknown status.
	for _, s := range []struct{ name, parent string }{
		{"root", ""}, {"a", "root"}, {"b", "root"}, {"a1", "a"}, {"a2", "a"}, {"a2x", "a2"}, {"orphan", "unknown"},
	} {
		st := &starling.Status{ID: starling.NewID(time.Now()), URI: "https://b.test/s/" + s.name, AccountID: bob.ID,
			Content: s.name, Visibility: starling.VisibilityPublic, CreatedAt: time.Now()}
		if s.parent != "" {
			st.InReplyToURI = "https://b.test/s/" + s.parent
		}
		if _, err := db.InsertRemoteStatus(ctx, st); err != nil {
			t.Fatal(err)
		}
		ids[s.name] = st.ID
	}
	must(db.DeleteRemoteStatus(ctx, "https://b.test/s/a2", bob.ID))
	names := func(list []int64) []string {
		var out []string
		for _, n := range list {
			for k, v := range ids {
				if v == n {
					out = append(out, k)
				}
			}
		}
		return out
	}
	tests := []struct {
		name, of string
		up       bool
		limit    int
		want     []string
	}{
		{"ancestors, the root first", "a1", true, 40, []string{"root", "a"}},
		{"ancestors bounded", "a1", true, 1, []string{"a"}},
		{"ancestors of a reply to an unknown status", "orphan", true, 40, nil},
		{"descendants depth first, without a deleted reply's branch", "root", false, 100, []string{"a", "a1", "b"}},
		{"descendants bounded", "root", false, 2, []string{"a", "a1"}},
		{"no descendants", "b", false, 100, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			if tt.up {
				got = must(db.StatusAncestors(ctx, ids[tt.of], tt.limit))
			} else {
				got = must(db.StatusDescendants(ctx, ids[tt.of], tt.limit))
			}
			if !slices.Equal(names(got), tt.want) {
				t.Errorf("got %v, want %v", names(got), tt.want)
			}
		})
	}
}

func TestBookmarksAndPins(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	bob := mustAccount(t, db, "bob", "b.test")
	var st []int64
	for i := range 3 {
		s := &starling.Status{ID: starling.NewID(time.Now()), URI: fmt.Sprintf("https://b.test/s/%d", i), AccountID: bob.ID,
			Content: "hi", Visibility: starling.VisibilityPublic, CreatedAt: time.Now()}
		if _, err := db.InsertRemoteStatus(ctx, s); err != nil {
			t.Fatal(err)
		}
		st = append(st, s.ID)
	}
	// Bookmarked newest to oldest, twice each: listed as bookmarked.
	for _, i := range []int{2, 0, 1, 0} {
		if err := db.SetBookmark(ctx, alice.ID, st[i], true); err != nil {
			t.Fatal(err)
		}
	}
	list := must(db.Bookmarks(ctx, alice.ID, starling.Page{Limit: 10}))
	var got []int64
	for _, m := range list {
		got = append(got, m.ID)
	}
	if want := []int64{st[1], st[0], st[2]}; !slices.Equal(got, want) {
		t.Errorf("bookmarks %v, want %v (the latest bookmarked first)", got, want)
	}
	page := must(db.Bookmarks(ctx, alice.ID, starling.Page{Limit: 1, MaxID: list[0].Cursor}))
	if len(page) != 1 || page[0].ID != st[0] {
		t.Errorf("page after the first: %+v", page)
	}
	must(db.DeleteRemoteStatus(ctx, "https://b.test/s/0", bob.ID))
	if list := must(db.Bookmarks(ctx, alice.ID, starling.Page{Limit: 10})); len(list) != 2 {
		t.Errorf("%d bookmarks listed after one was deleted, want 2", len(list))
	}
	if err := db.SetPin(ctx, alice.ID, st[1], true); err != nil {
		t.Fatal(err)
	}
	flags := must(db.ViewerFlags(ctx, alice.ID, st))
	if f := flags[st[1]]; !f.Bookmarked || !f.Pinned || f.Favourited {
		t.Errorf("flags of st[1] %+v", f)
	}
	if n := must(db.PinCount(ctx, alice.ID)); n != 1 {
		t.Errorf("pin count %d", n)
	}
	if err := db.SetBookmark(ctx, alice.ID, st[1], false); err != nil {
		t.Fatal(err)
	}
	if f := must(db.ViewerFlags(ctx, alice.ID, st))[st[1]]; f.Bookmarked {
		t.Errorf("still bookmarked: %+v", f)
	}
}
