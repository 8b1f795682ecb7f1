package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/store/postgres"
	"github.com/starling-social/starling/store/postgres/pgtest"
)

// remoteStatus stores a public status of author, replying to parent's URI
// when parent is set, and returns it.
func remoteStatus(t *testing.T, db *postgres.DB, author *starling.Account, name string, parent *starling.Status) *starling.Status {
	t.Helper()
	st := &starling.Status{ID: starling.NewID(time.Now()), URI: fmt.Sprintf("https://%s/s/%s", author.Domain, name),
		AccountID: author.ID, Content: name, Visibility: starling.VisibilityPublic, CreatedAt: time.Now()}
	if parent != nil {
		st.InReplyToURI = parent.URI
	}
	if _, err := db.InsertRemoteStatus(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestLists(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	eve := mustAccount(t, db, "eve", "")
	bob := mustAccount(t, db, "bob", "b.test")
	carol := mustAccount(t, db, "carol", "c.test")
	dave := mustAccount(t, db, "dave", "d.test")
	accept(t, db, alice, bob)
	accept(t, db, alice, carol)

	l := &starling.List{AccountID: alice.ID, Title: "friends", RepliesPolicy: starling.RepliesList}
	if err := db.CreateList(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ListByID(ctx, eve.ID, l.ID); starling.ErrorCode(err) != starling.ENOTFOUND {
		t.Errorf("eve reads alice's list: %v", err)
	}
	if err := db.DeleteList(ctx, eve.ID, l.ID); starling.ErrorCode(err) != starling.ENOTFOUND {
		t.Errorf("eve deletes alice's list: %v", err)
	}
	// Only followed accounts (or oneself) join, all or none.
	if err := db.AddListAccounts(ctx, alice.ID, l.ID, []int64{bob.ID, dave.ID}); starling.ErrorCode(err) != starling.EINVALID {
		t.Errorf("adding an account alice does not follow: %v", err)
	}
	if got := must(db.ListAccounts(ctx, l.ID, starling.Page{Limit: 40})); len(got) != 0 {
		t.Errorf("a refused add left %d members", len(got))
	}
	if err := db.AddListAccounts(ctx, alice.ID, l.ID, []int64{bob.ID, alice.ID}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddListAccounts(ctx, alice.ID, l.ID, []int64{bob.ID}); starling.ErrorCode(err) != starling.EINVALID {
		t.Errorf("adding a member again: %v", err)
	}
	if got := must(db.ListsWithAccount(ctx, alice.ID, bob.ID)); len(got) != 1 || got[0].ID != l.ID {
		t.Errorf("lists with bob: %+v", got)
	}

	// bob posts, replies to himself, to carol (not a member) and to dave;
	// carol posts. Policy list shows bob's own thread only; followed adds
	// the reply to carol; none shows the self-reply still.
	root := remoteStatus(t, db, bob, "root", nil)
	self := remoteStatus(t, db, bob, "self", root)
	cpost := remoteStatus(t, db, carol, "carol", nil)
	toCarol := remoteStatus(t, db, bob, "to-carol", cpost)
	dpost := remoteStatus(t, db, dave, "dave", nil)
	toDave := remoteStatus(t, db, bob, "to-dave", dpost)
	read := func() []int64 {
		t.Helper()
		cur := must(db.ListByID(ctx, alice.ID, l.ID))
		var out []int64
		for _, it := range must(db.ListTimeline(ctx, cur, starling.Page{Limit: 40})) {
			out = append(out, it.ID)
		}
		return out
	}
	for _, tt := range []struct {
		policy string
		want   []int64
	}{
		{starling.RepliesList, []int64{self.ID, root.ID}},
		{starling.RepliesFollowed, []int64{toCarol.ID, self.ID, root.ID}},
		{starling.RepliesNone, []int64{self.ID, root.ID}},
	} {
		l.RepliesPolicy = tt.policy
		if err := db.UpdateList(ctx, l); err != nil {
			t.Fatal(err)
		}
		if got := read(); !slices.Equal(got, tt.want) {
			t.Errorf("policy %s: %v, want %v", tt.policy, got, tt.want)
		}
	}
	_ = toDave
	// With carol a member, policy list shows the reply to her, and her post.
	l.RepliesPolicy = starling.RepliesList
	must(0, db.UpdateList(ctx, l))
	must(0, db.AddListAccounts(ctx, alice.ID, l.ID, []int64{carol.ID}))
	if got, want := read(), []int64{toCarol.ID, cpost.ID, self.ID, root.ID}; !slices.Equal(got, want) {
		t.Errorf("with carol: %v, want %v", got, want)
	}
	// Paged: max_id, min_id (the ones just above, newest first).
	cur := must(db.ListByID(ctx, alice.ID, l.ID))
	ids := func(items []*starling.Item) []int64 {
		var out []int64
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}
	if got, want := ids(must(db.ListTimeline(ctx, cur, starling.Page{MaxID: cpost.ID, Limit: 1}))), []int64{self.ID}; !slices.Equal(got, want) {
		t.Errorf("max_id: %v, want %v", got, want)
	}
	if got, want := ids(must(db.ListTimeline(ctx, cur, starling.Page{MinID: root.ID, Limit: 2}))), []int64{cpost.ID, self.ID}; !slices.Equal(got, want) {
		t.Errorf("min_id: %v, want %v", got, want)
	}
	if got, want := ids(must(db.ListTimeline(ctx, cur, starling.Page{SinceID: self.ID, Limit: 40}))), []int64{toCarol.ID, cpost.ID}; !slices.Equal(got, want) {
		t.Errorf("since_id: %v, want %v", got, want)
	}
	if got := must(db.ListsShowing(ctx, toCarol.ID, []int64{l.ID})); len(got) != 1 {
		t.Errorf("lists showing the reply to carol: %v", got)
	}
	if got := must(db.ListsShowing(ctx, toDave.ID, []int64{l.ID})); len(got) != 0 {
		t.Errorf("lists showing the reply to dave: %v", got)
	}
	l.Exclusive = true
	must(0, db.UpdateList(ctx, l))
	if got := must(db.ExclusiveListMembers(ctx, alice.ID)); len(got) != 3 {
		t.Errorf("exclusive members %v", got)
	}
	must(0, db.RemoveListAccounts(ctx, l.ID, []int64{carol.ID, dave.ID}))
	if got := must(db.ListAccounts(ctx, l.ID, starling.Page{Limit: 40})); len(got) != 2 {
		t.Errorf("after removing carol: %d members", len(got))
	}
	// Unfollowed, bob leaves the list.
	if _, err := db.Pool().Exec(ctx, `DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`, alice.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if got := must(db.ListAccounts(ctx, l.ID, starling.Page{Limit: 40})); len(got) != 1 || got[0].Account.ID != alice.ID {
		t.Errorf("after unfollowing bob: members %+v", got)
	}
	must(0, db.DeleteList(ctx, alice.ID, l.ID))
	if got := must(db.Lists(ctx, alice.ID)); len(got) != 0 {
		t.Errorf("lists after delete: %+v", got)
	}
}

func TestFilters(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	eve := mustAccount(t, db, "eve", "")
	bob := mustAccount(t, db, "bob", "b.test")
	st := remoteStatus(t, db, bob, "s", nil)
	f := &starling.Filter{AccountID: alice.ID, Title: "spoilers", Context: []string{"home", "public"}, Action: "hide",
		ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Millisecond),
		Keywords:  []starling.FilterKeyword{{Keyword: "film", WholeWord: true}, {Keyword: "ending"}},
		Statuses:  []starling.FilterStatus{{StatusID: st.ID}}}
	must(0, db.CreateFilter(ctx, f))
	got := must(db.FilterByID(ctx, alice.ID, f.ID))
	if got.Title != "spoilers" || len(got.Keywords) != 2 || !got.Keywords[0].WholeWord || len(got.Statuses) != 1 ||
		!got.ExpiresAt.Equal(f.ExpiresAt) || !slices.Equal(got.Context, f.Context) {
		t.Errorf("stored %+v", got)
	}
	if _, err := db.FilterByID(ctx, eve.ID, f.ID); starling.ErrorCode(err) != starling.ENOTFOUND {
		t.Errorf("eve reads alice's filter: %v", err)
	}
	if _, err := db.FilterKeywordByID(ctx, eve.ID, f.Keywords[0].ID); starling.ErrorCode(err) != starling.ENOTFOUND {
		t.Errorf("eve reads alice's keyword: %v", err)
	}
	if err := db.AddFilterStatus(ctx, alice.ID, &starling.FilterStatus{FilterID: f.ID, StatusID: st.ID}); starling.ErrorCode(err) != starling.EINVALID {
		t.Errorf("the same status twice: %v", err)
	}
	// One edit changes a keyword, drops another, adds a third; an edit of
	// eve's keyword id fails the whole update.
	f.Title = "film"
	err := db.UpdateFilter(ctx, f, []starling.FilterKeywordEdit{{ID: f.Keywords[0].ID, Keyword: "movie"},
		{ID: f.Keywords[1].ID, Destroy: true}, {Keyword: "plot", WholeWord: true}})
	if err != nil {
		t.Fatal(err)
	}
	got = must(db.FilterByID(ctx, alice.ID, f.ID))
	if got.Title != "film" || len(got.Keywords) != 2 || got.Keywords[0].Keyword != "movie" || got.Keywords[1].Keyword != "plot" {
		t.Errorf("after update %+v", got)
	}
	ef := &starling.Filter{AccountID: eve.ID, Title: "eve's", Context: []string{"home"}, Action: "warn",
		Keywords: []starling.FilterKeyword{{Keyword: "x"}}}
	must(0, db.CreateFilter(ctx, ef))
	f.Title = "changed"
	if err := db.UpdateFilter(ctx, f, []starling.FilterKeywordEdit{{ID: ef.Keywords[0].ID, Keyword: "y"}}); starling.ErrorCode(err) != starling.ENOTFOUND {
		t.Errorf("editing eve's keyword through alice's filter: %v", err)
	}
	if got := must(db.FilterByID(ctx, alice.ID, f.ID)); got.Title != "film" {
		t.Errorf("a failed update changed the title to %q", got.Title)
	}
	if err := db.DeleteFilterKeyword(ctx, alice.ID, ef.Keywords[0].ID); starling.ErrorCode(err) != starling.ENOTFOUND {
		t.Errorf("alice deletes eve's keyword: %v", err)
	}
	must(0, db.DeleteFilter(ctx, alice.ID, f.ID))
	if got := must(db.Filters(ctx, alice.ID)); len(got) != 0 {
		t.Errorf("filters after delete: %+v", got)
	}
}

// TestTagFollowFanout: a public status carrying a followed hashtag enters
// the follower's home feed once, also when the follower follows its
// author; a boost, an unlisted status or one of a muted author does not.
func TestTagFollowFanout(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	alice := mustAccount(t, db, "alice", "")
	carol := mustAccount(t, db, "carol", "")
	bob := mustAccount(t, db, "bob", "b.test")
	dave := mustAccount(t, db, "dave", "d.test")
	accept(t, db, carol, bob)
	must(0, db.FollowTag(ctx, alice.ID, "Birds"))
	must(0, db.FollowTag(ctx, alice.ID, "birds")) // the same tag
	must(0, db.FollowTag(ctx, carol.ID, "birds"))
	must(0, db.FollowTag(ctx, carol.ID, "cats"))
	if ok := must(db.FollowsTag(ctx, alice.ID, "BIRDS")); !ok {
		t.Error("alice does not follow #birds")
	}
	if tags := must(db.FollowedTags(ctx, carol.ID, starling.Page{Limit: 1})); len(tags) != 1 || tags[0].Name != "cats" {
		t.Errorf("carol's first followed tag %+v", tags)
	}
	post := func(author *starling.Account, name, visibility string, tags ...string) int64 {
		st := &starling.Status{ID: starling.NewID(time.Now()), URI: fmt.Sprintf("https://%s/s/%s", author.Domain, name),
			AccountID: author.ID, Visibility: visibility, CreatedAt: time.Now()}
		if _, err := db.InsertRemoteStatus(ctx, st); err != nil {
			t.Fatal(err)
		}
		must(0, db.IndexStatus(ctx, st.ID, tags, nil))
		for range 2 {
			if _, err := db.AddStatusToFeeds(ctx, st.ID); err != nil {
				t.Fatal(err)
			}
		}
		return st.ID
	}
	tagged := post(bob, "tagged", starling.VisibilityPublic, "birds", "cats")
	unlisted := post(bob, "unlisted", starling.VisibilityUnlisted, "birds")
	must(db.CreateMute(ctx, alice.ID, dave.ID))
	muted := post(dave, "muted", starling.VisibilityPublic, "birds")
	for _, tt := range []struct {
		reader *starling.Account
		status int64
		want   int
	}{
		{alice, tagged, 1}, {carol, tagged, 1}, {alice, unlisted, 0}, {carol, unlisted, 1}, {alice, muted, 0}, {carol, muted, 1},
	} {
		if n := must(db.CountFeedEntries(ctx, tt.reader.ID, tt.status)); n != tt.want {
			t.Errorf("%s has status %d %d times, want %d", tt.reader.Username, tt.status, n, tt.want)
		}
	}
	// A deleted status leaves the feeds of its tags' followers.
	gone := post(dave, "gone", starling.VisibilityPublic, "birds")
	if n := must(db.RemoveStatusFromFeeds(ctx, gone)); n != 1 {
		t.Errorf("removing a tagged status took %d feed entries, want carol's", n)
	}
	// Unfollowing #cats leaves the status carol got by #birds too; then
	// unfollowing #birds takes what only #birds brought, not what bob (whom
	// carol follows) wrote.
	byDave := post(dave, "dave-birds", starling.VisibilityPublic, "birds")
	must(0, db.UnfollowTag(ctx, carol.ID, "cats"))
	if n := must(db.CountFeedEntries(ctx, carol.ID, tagged)); n != 1 {
		t.Errorf("unfollowing #cats took a status also tagged #birds")
	}
	must(0, db.UnfollowTag(ctx, carol.ID, "birds"))
	for _, tt := range []struct {
		status int64
		want   int
	}{{tagged, 1}, {unlisted, 1}, {byDave, 0}, {muted, 0}} {
		if n := must(db.CountFeedEntries(ctx, carol.ID, tt.status)); n != tt.want {
			t.Errorf("after unfollowing #birds carol has status %d %d times, want %d", tt.status, n, tt.want)
		}
	}
	must(0, db.UnfollowTag(ctx, alice.ID, "birds"))
	if ok := must(db.FollowsTag(ctx, alice.ID, "birds")); ok {
		t.Error("alice follows #birds after unfollowing")
	}
}
