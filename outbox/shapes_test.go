package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/outbox"
)

// The recorder keeps every activity the outbox stores, whichever store
// method stores it.
func (r *recorder) keep(act *starling.Activity) {
	if act != nil {
		r.acts = append(r.acts, act)
	}
}

func (r *recorder) DeleteLocalStatus(ctx context.Context, id, accountID int64, act *starling.Activity, events ...starling.Event) (*starling.Status, error) {
	r.keep(act)
	return r.DB.DeleteLocalStatus(ctx, id, accountID, act, events...)
}

func (r *recorder) EditLocalStatus(ctx context.Context, s *starling.Status, act *starling.Activity, events ...starling.Event) error {
	r.keep(act)
	return r.DB.EditLocalStatus(ctx, s, act, events...)
}

func (r *recorder) CreateFollow(ctx context.Context, f *starling.Follow, act *starling.Activity, events ...starling.Event) (*starling.Follow, bool, error) {
	r.keep(act)
	return r.DB.CreateFollow(ctx, f, act, events...)
}

func (r *recorder) DeleteFollow(ctx context.Context, id int64, act *starling.Activity, events ...starling.Event) (bool, error) {
	r.keep(act)
	return r.DB.DeleteFollow(ctx, id, act, events...)
}

func (r *recorder) InsertActivity(ctx context.Context, act *starling.Activity, events ...starling.Event) (bool, error) {
	r.keep(act)
	return r.DB.InsertActivity(ctx, act, events...)
}

func (r *recorder) CreateReblog(ctx context.Context, s *starling.Status, reblogOfID int64, act *starling.Activity, events ...starling.Event) (*starling.Status, bool, error) {
	r.keep(act)
	return r.DB.CreateReblog(ctx, s, reblogOfID, act, events...)
}

func (r *recorder) CreateFavourite(ctx context.Context, f *starling.Favourite, act *starling.Activity, events ...starling.Event) (bool, error) {
	r.keep(act)
	return r.DB.CreateFavourite(ctx, f, act, events...)
}

func (r *recorder) DeleteFavourite(ctx context.Context, id int64, uri string, accountID int64, act *starling.Activity, events ...starling.Event) (bool, error) {
	r.keep(act)
	return r.DB.DeleteFavourite(ctx, id, uri, accountID, act, events...)
}

func (r *recorder) DeleteReblog(ctx context.Context, id, accountID int64, act *starling.Activity, events ...starling.Event) (bool, error) {
	r.keep(act)
	return r.DB.DeleteReblog(ctx, id, accountID, act, events...)
}

func (r *recorder) CreateBlock(ctx context.Context, b *starling.Block, act *starling.Activity, events ...starling.Event) (bool, error) {
	r.keep(act)
	return r.DB.CreateBlock(ctx, b, act, events...)
}

func (r *recorder) last(t *testing.T) map[string]any {
	t.Helper()
	if len(r.acts) == 0 {
		t.Fatal("no activity stored")
	}
	var doc map[string]any
	if err := json.Unmarshal(r.acts[len(r.acts)-1].Payload, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func sample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mastodon", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// roles names each address by what it is, so that Mastodon's addressing
// and ours can be compared across servers: Public, the actor's followers,
// a mentioned (tagged) actor, the replied-to or boosted status's author.
func roles(doc map[string]any, key string) []string {
	actor, _ := doc["actor"].(string)
	obj, _ := doc["object"].(map[string]any)
	if obj == nil || doc["type"] == "Note" {
		obj = doc
	}
	if actor == "" {
		actor, _ = obj["attributedTo"].(string)
	}
	mentioned := map[string]bool{}
	tags, _ := obj["tag"].([]any)
	for _, x := range tags {
		if tag, _ := x.(map[string]any); tag["type"] == "Mention" {
			mentioned[tag["href"].(string)] = true
		}
	}
	var out []string
	list, _ := doc[key].([]any)
	for _, x := range list {
		iri, _ := x.(string)
		switch {
		case strings.HasSuffix(iri, "#Public") || iri == "as:Public" || iri == "Public":
			out = append(out, "Public")
		case iri == actor+"/followers":
			out = append(out, "followers")
		case mentioned[iri]:
			out = append(out, "mentioned")
		default:
			out = append(out, "author of the object")
		}
	}
	return out
}

// form is the shape of an activity: its type, how its object is given (an
// IRI, or an embedded object of some type with the fields it has), and
// its addressing by role.
func form(doc map[string]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "type=%v", doc["type"])
	switch o := doc["object"].(type) {
	case string:
		b.WriteString(" object=IRI")
	case map[string]any:
		var keys []string
		for _, k := range []string{"id", "type", "actor", "object"} {
			if _, ok := o[k]; ok {
				keys = append(keys, k)
			}
		}
		fmt.Fprintf(&b, " object=embedded %v %v", o["type"], keys)
	}
	for _, key := range []string{"to", "cc"} {
		if r := roles(doc, key); len(r) > 0 {
			fmt.Fprintf(&b, " %s=%v", key, r)
		}
	}
	return b.String()
}

// tagForms is the form of a Note's tags: each tag's type, its keys, and
// how its name is written.
func tagForms(note map[string]any) []string {
	var out []string
	tags, _ := note["tag"].([]any)
	for _, x := range tags {
		tag := x.(map[string]any)
		var keys []string
		for k := range tag {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		name, _ := tag["name"].(string)
		shape := "?"
		switch {
		case strings.HasPrefix(name, "#"):
			shape = "#tag"
		case strings.Count(name, "@") == 2 && strings.HasPrefix(name, "@"):
			shape = "@user@host"
		}
		href, _ := tag["href"].(string)
		out = append(out, fmt.Sprintf("%v %v %s href-absolute=%v", tag["type"], keys, shape,
			strings.HasPrefix(href, "http://") || strings.HasPrefix(href, "https://")))
	}
	slices.Sort(out)
	return out
}

// iriKeys are the properties whose values are IRIs (or objects with ids).
var iriKeys = map[string]bool{"id": true, "actor": true, "object": true, "to": true, "cc": true, "inReplyTo": true,
	"attributedTo": true, "url": true, "href": true}

// noEmptyIRIs fails on a null anywhere and on an empty IRI.
func noEmptyIRIs(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil:
		t.Errorf("%s is null", path)
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && iriKeys[k] && s == "" {
				t.Errorf("%s.%s is an empty IRI", path, k)
			}
			if list, ok := e.([]any); ok && iriKeys[k] {
				for i, s := range list {
					if s == "" {
						t.Errorf("%s.%s[%d] is an empty IRI", path, k, i)
					}
				}
			}
			noEmptyIRIs(t, path+"."+k, e)
		}
	case []any:
		for i, e := range x {
			noEmptyIRIs(t, fmt.Sprintf("%s[%d]", path, i), e)
		}
	}
}

// TestShapesMatchMastodon holds every activity type Starling emits to the
// form Mastodon emits for the same action (testdata/mastodon, SOURCES.md):
// the same type, the object given the same way, the same addressing by
// role for the same visibility, tags of the same form, and no null or
// empty IRI. Where no sample exists for a visibility, the expectation is
// Mastodon's ActivityPub::TagManager#to/#cc, written out.
func TestShapesMatchMastodon(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	o := r.ob
	remoteStatus := &starling.Status{ID: starling.NewID(mustNow()), URI: "https://remote.test/users/rem/statuses/1",
		URL: "https://remote.test/@rem/1", AccountID: r.remote.ID, Visibility: starling.VisibilityPublic, Content: "<p>hi</p>", CreatedAt: mustNow()}
	if _, err := r.db.InsertRemoteStatus(ctx, remoteStatus); err != nil {
		t.Fatal(err)
	}
	remoteStatus.Account = r.remote
	noteOf := func(doc map[string]any) map[string]any { return doc["object"].(map[string]any) }
	post := func(p outbox.NewStatus) func(t *testing.T) map[string]any {
		return func(t *testing.T) map[string]any {
			if _, err := o.CreateStatus(ctx, r.alice, p); err != nil {
				t.Fatal(err)
			}
			return r.rec.last(t)
		}
	}
	tests := []struct {
		name   string
		do     func(t *testing.T) map[string]any
		sample string                              // the Mastodon sample of the same action ("" : want is Mastodon's rule, written out)
		ours   func(map[string]any) map[string]any // the part of ours to compare; default all
		theirs func(map[string]any) map[string]any // the part of the sample; default all
		want   string                              // when there is no sample
		tags   bool                                // compare the Note's tags with the sample's
	}{
		{name: "Create public, mention and hashtag", sample: "create-note-hashtag.json", tags: true,
			do: post(outbox.NewStatus{Text: "@rem@remote.test #moo"})},
		{name: "Create public, mention and content warning", sample: "create-note-mention-cw-sensitive.json", tags: true,
			do: post(outbox.NewStatus{Text: "@rem@remote.test", SpoilerText: "cw"})},
		{name: "Create direct reply with a mention (the Note)", sample: "create-direct-message.json", ours: noteOf,
			do: post(outbox.NewStatus{Text: "@rem@remote.test 444", Visibility: "direct", InReplyToID: remoteStatus.ID})},
		{name: "Create unlisted with a mention",
			do:   post(outbox.NewStatus{Text: "@rem@remote.test hi", Visibility: "unlisted"}),
			want: "type=Create object=embedded Note [id type] to=[followers] cc=[Public mentioned]"},
		{name: "Create private with a mention",
			do:   post(outbox.NewStatus{Text: "@rem@remote.test hi", Visibility: "private"}),
			want: "type=Create object=embedded Note [id type] to=[followers] cc=[mentioned]"},
		{name: "Create direct", do: post(outbox.NewStatus{Text: "@rem@remote.test hi", Visibility: "direct"}),
			want: "type=Create object=embedded Note [id type] to=[mentioned]"},
		{name: "Create public reply", do: post(outbox.NewStatus{Text: "re", InReplyToID: remoteStatus.ID}),
			want: "type=Create object=embedded Note [id type] to=[Public] cc=[followers author of the object]"},
		{name: "Update (edit)", sample: "update-person.json", theirs: objectType("Note"), do: func(t *testing.T) map[string]any {
			st, err := o.CreateStatus(ctx, r.alice, outbox.NewStatus{Text: "v1"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.EditStatus(ctx, r.alice, st.ID, outbox.EditedStatus{Text: "v2 #moo"}); err != nil {
				t.Fatal(err)
			}
			doc := r.rec.last(t)
			if noteOf(doc)["updated"] == nil {
				t.Error("Update's Note has no updated")
			}
			// Mastodon addresses an Update as the Note; the sample is a
			// profile Update, addressed to no one in particular.
			delete(doc, "to")
			delete(doc, "cc")
			return doc
		}},
		{name: "Delete", sample: "delete-actor.json", theirs: objectType("Tombstone"), do: func(t *testing.T) map[string]any {
			st, err := o.CreateStatus(ctx, r.alice, outbox.NewStatus{Text: "bye"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.DeleteStatus(ctx, r.alice, st.ID); err != nil {
				t.Fatal(err)
			}
			doc := r.rec.last(t)
			if roles(doc, "to")[0] != "Public" {
				t.Errorf("Delete to %v, want Public (Mastodon's DeleteSerializer)", doc["to"])
			}
			delete(doc, "to")
			return doc
		}},
		{name: "Follow", sample: "follow.json", do: func(t *testing.T) map[string]any {
			if _, err := o.Follow(ctx, r.alice, r.remote); err != nil {
				t.Fatal(err)
			}
			return r.rec.last(t)
		}},
		{name: "Undo Follow", sample: "undo-block.json", do: func(t *testing.T) map[string]any {
			if err := o.Unfollow(ctx, r.alice, r.remote); err != nil {
				t.Fatal(err)
			}
			doc := r.rec.last(t)
			doc["object"].(map[string]any)["type"] = "Block" // the sample undoes a Block: compare the rest
			return doc
		}},
		{name: "Accept", sample: "reject-follow.json", do: func(t *testing.T) map[string]any {
			f := &starling.Follow{ID: starling.NewID(mustNow()), FollowerID: r.remote.ID, FolloweeID: r.alice.ID,
				URI: "https://remote.test/follows/1", Accepted: true}
			if err := o.AcceptFollow(ctx, r.alice, r.remote, f); err != nil {
				t.Fatal(err)
			}
			doc := r.rec.last(t)
			doc["type"] = "Reject" // the sample rejects: the same form
			return doc
		}},
		{name: "Announce", sample: "announce.json", do: func(t *testing.T) map[string]any {
			if _, err := o.Reblog(ctx, r.alice, remoteStatus); err != nil {
				t.Fatal(err)
			}
			return r.rec.last(t)
		}},
		{name: "Like", sample: "like.json", do: func(t *testing.T) map[string]any {
			if err := o.Favourite(ctx, r.alice, remoteStatus); err != nil {
				t.Fatal(err)
			}
			return r.rec.last(t)
		}},
		{name: "Undo Like", sample: "undo-like.json", do: func(t *testing.T) map[string]any {
			if err := o.Unfavourite(ctx, r.alice, remoteStatus); err != nil { // the Like above
				t.Fatal(err)
			}
			return r.rec.last(t)
		}},
		{name: "Undo Announce", sample: "undo-announce.json", do: func(t *testing.T) map[string]any {
			if err := o.Unreblog(ctx, r.alice, remoteStatus); err != nil { // the Announce above
				t.Fatal(err)
			}
			doc := r.rec.last(t)
			// Mastodon has since addressed it to Public as well
			// (UndoAnnounceSerializer); the 2018 sample is not.
			delete(doc, "to")
			return doc
		}},
		{name: "Block", sample: "undo-block.json", theirs: func(d map[string]any) map[string]any {
			return d["object"].(map[string]any) // the Block inside Mastodon's Undo
		}, do: func(t *testing.T) map[string]any {
			if err := o.Block(ctx, r.alice, r.remote); err != nil {
				t.Fatal(err)
			}
			return r.rec.last(t)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.do(t)
			noEmptyIRIs(t, "activity", doc)
			ours := doc
			if tt.ours != nil {
				ours = tt.ours(doc)
			}
			want := tt.want
			var theirs map[string]any
			if tt.sample != "" {
				theirs = sample(t, tt.sample)
				if tt.theirs != nil {
					theirs = tt.theirs(theirs)
				}
				want = form(theirs)
			}
			if got := form(ours); got != want {
				t.Errorf("form\n got %s\nwant %s", got, want)
			}
			if tt.tags {
				if got, want := tagForms(noteOf(doc)), tagForms(noteOf(theirs)); !slices.Equal(got, want) {
					t.Errorf("tags\n got %v\nwant %v", got, want)
				}
			}
			if tt.name == "Create direct reply with a mention (the Note)" {
				if got, want := tagForms(ours), []string{"Mention [href name type] @user@host href-absolute=true"}; !slices.Equal(got, want) {
					t.Errorf("tags %v, want %v", got, want)
				}
				if ours["inReplyTo"] != remoteStatus.URI {
					t.Errorf("inReplyTo %v", ours["inReplyTo"])
				}
			}
		})
	}
}

// objectType makes a sample of an action on an actor one on a status:
// Mastodon embeds the Note in an Update (UpdateSerializer) and a Tombstone
// in the Delete of a status (DeleteSerializer), in the same form.
func objectType(typ string) func(map[string]any) map[string]any {
	return func(d map[string]any) map[string]any {
		d["object"].(map[string]any)["type"] = typ
		return d
	}
}

func mustNow() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
