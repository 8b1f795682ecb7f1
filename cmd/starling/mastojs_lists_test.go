package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// TestMastojsListsFiltersTags drives lists, filters (v2 and v1) and
// followed hashtags with masto.js, unchanged (interop/mastojs/lists.mjs):
// its JSON bodies, DELETE with a body and keywords_attributes with
// _destroy must be read as Mastodon reads them.
func TestMastojsListsFiltersTags(t *testing.T) {
	node := mastojsNode(t)
	a := startInstance(t, "A")
	alice, bob := a.user("alice"), a.user("bob")
	bobID := a.accountID(alice, "bob")
	a.follow(alice, bobID)
	kiwi := a.post(bob, "a kiwi for you")
	waitFor(t, 10*time.Second, "bob's post in alice's home", func() bool {
		var home []struct{ ID string }
		a.mustCall("GET", "/api/v1/timelines/home", alice, nil, &home)
		return len(home) > 0 && home[0].ID == kiwi.ID
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "lists.mjs", a.base, alice, bobID, kiwi.ID)
	cmd.Dir = mastojsDir
	cmd.Stderr = &logWriter{t: t}
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("masto.js lists client: %v (stdout: %s)", err, stdout)
	}
	t.Logf("masto.js: %s", stdout)
	var got struct {
		List struct {
			Title, RepliesPolicy string
			Exclusive            bool
		}
		Members []string
		Renamed struct {
			Title     string
			Exclusive bool
		}
		Lists, AccountLists, ListTimeline    []string
		MembersAfterRemove, ListsAfterDelete int
		Filter                               struct {
			Title, Action     string
			Context, Keywords []string
			Expires           bool
		}
		Warned  []string
		Updated struct {
			Action   string
			Keywords []string
		}
		Hidden       bool
		Keyword      string
		Keywords     []string
		FilterStatus bool
		Filters      []string
		V1           struct {
			Phrase                  string
			Irreversible, WholeWord bool
		}
		V1List             []string
		FiltersAfterDelete int
		TagBefore          bool
		TagFollowed        bool
		FollowedTags       []string
		TagUnfollowed      bool
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("masto.js output %q: %v", stdout, err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"list", got.List, struct {
			Title, RepliesPolicy string
			Exclusive            bool
		}{"masto.js list", "list", false}},
		{"members", got.Members, []string{bobID}},
		{"renamed", got.Renamed, struct {
			Title     string
			Exclusive bool
		}{"renamed", true}},
		{"lists", got.Lists, []string{"renamed"}},
		{"account's lists", got.AccountLists, []string{"renamed"}},
		{"list timeline", got.ListTimeline, []string{kiwi.ID}},
		{"members after remove", got.MembersAfterRemove, 0},
		{"lists after delete", got.ListsAfterDelete, 0},
		{"filter", fmt.Sprint(got.Filter), "{masto.js warn [home public] [kiwi mango] true}"},
		{"warned", got.Warned, []string{"kiwi"}},
		{"updated", fmt.Sprint(got.Updated), "{hide [kiwi:true papaya:false]}"},
		{"hidden", got.Hidden, true},
		{"keyword", got.Keyword, "lemon:false"},
		{"keywords", got.Keywords, []string{"kiwi", "papaya", "lemon"}},
		{"filter status", got.FilterStatus, true},
		{"filters", got.Filters, []string{"masto.js"}},
		{"v1", fmt.Sprint(got.V1), "{durian true true}"},
		{"v1 list", got.V1List, []string{"kiwi", "papaya", "durian"}},
		{"filters after delete", got.FiltersAfterDelete, 0},
		{"tag before", got.TagBefore, false},
		{"tag followed", got.TagFollowed, true},
		{"followed tags", got.FollowedTags, []string{"Kiwi"}},
		{"tag unfollowed", got.TagUnfollowed, false},
	} {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}
