package federation

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/sanitize"
)

// iriProperties are the properties whose value is an IRI (or a list of
// them, or an object standing for one). An empty string there is an IRI
// that dereferences nothing, and null is not a value receivers accept
// everywhere: Starling must leave such a property out instead.
var iriProperties = map[string]bool{
	"id": true, "actor": true, "object": true, "target": true, "attributedTo": true,
	"inReplyTo": true, "url": true, "inbox": true, "outbox": true, "followers": true,
	"following": true, "sharedInbox": true, "endpoints": true, "publicKey": true, "owner": true,
	"first": true, "last": true, "next": true, "prev": true, "partOf": true, "href": true,
	"to": true, "cc": true, "bto": true, "bcc": true, "audience": true, "quote": true,
	"quoteUrl": true, "quoteUri": true, "_misskey_quote": true, "orderedItems": true,
	"items": true, "tag": true, "attachment": true, "icon": true, "image": true, "featured": true,
}

// emptyIRIs returns the paths of every empty or null IRI property in v (a
// decoded JSON document), at any depth.
func emptyIRIs(path string, v any) []string {
	var bad []string
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			p := path + "." + k
			if iriProperties[k] {
				switch c := child.(type) {
				case nil:
					bad = append(bad, p+" is null")
				case string:
					if c == "" {
						bad = append(bad, p+` is ""`)
					}
				case []any:
					for i, e := range c {
						if e == nil || e == "" {
							bad = append(bad, fmt.Sprintf("%s[%d] is %#v", p, i, e))
						}
					}
				}
			}
			bad = append(bad, emptyIRIs(p, child)...)
		}
	case []any:
		for i, e := range v {
			bad = append(bad, emptyIRIs(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
	}
	return bad
}

// TestSiteDocumentsHaveNoEmptyIRIs renders every document Starling serves or
// sends through Site and fails on any IRI property written as "" or null:
// Ref fields with omitempty used to go out as "inReplyTo":"", "actor":"",
// "object":"" on every Note.
func TestSiteDocumentsHaveNoEmptyIRIs(t *testing.T) {
	site := Site{Scheme: "https", Host: "starling.example"}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	alice := site.NewLocalAccount("alice", "PEM", "")
	alice.CreatedAt = now
	bot := site.NewLocalAccount("robot", "PEM", "")
	bot.Bot, bot.DisplayName, bot.Note = true, "Robot", "<p>beep</p>"
	instance := site.NewLocalAccount(InstanceActorUsername, "PEM", "")
	fielded := site.NewLocalAccount("fielded", "PEM", "")
	fielded.Fields = []starling.Field{{Name: "Pronouns", Value: "they/them"}}

	docs := map[string]any{
		"actor alice":    site.ActorDocument(alice),
		"actor bot":      site.ActorDocument(bot),
		"instance actor": site.ActorDocument(instance),
		"actor fields":   site.ActorDocument(fielded),
		"outbox":         site.OutboxCollection(alice, 3),
		"followers none": site.FollowCollection(alice, true, 0, nil),
		"followers":      site.FollowCollection(alice, true, 2, []string{"https://a.example/u/1", "https://b.example/u/2"}),
		"following":      site.FollowCollection(alice, false, 1, []string{"https://a.example/u/1"}),
	}
	for _, vis := range []string{starling.VisibilityPublic, starling.VisibilityUnlisted, starling.VisibilityPrivate, starling.VisibilityDirect} {
		st := &starling.Status{ID: 7, URI: site.StatusURI("alice", 7), URL: site.StatusURL("alice", 7),
			Content: "<p>hi</p>", Visibility: vis, CreatedAt: now}
		docs["note "+vis] = site.Note(st, alice)
		reply := *st
		reply.InReplyToURI, reply.SpoilerText, reply.Sensitive = "https://a.example/n/1", "cw", true
		docs["reply "+vis] = site.Note(&reply, alice)
	}

	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			for _, bad := range emptyIRIs("", v) {
				t.Errorf("%s in %s", bad, b)
			}
		})
	}
}

// The checker itself must catch what it is for.
func TestEmptyIRIs(t *testing.T) {
	tests := []struct {
		doc  string
		want int
	}{
		{`{"id":"x","inReplyTo":""}`, 1},
		{`{"id":"x","object":{"id":"y","actor":null}}`, 1},
		{`{"id":"x","to":["a",""],"tag":[{"href":""}]}`, 2},
		{`{"id":"x","content":"","summary":""}`, 0},
	}
	for _, tt := range tests {
		var v any
		if err := json.Unmarshal([]byte(tt.doc), &v); err != nil {
			t.Fatal(err)
		}
		if got := emptyIRIs("", v); len(got) != tt.want {
			t.Errorf("%s: %v, want %d findings", tt.doc, got, tt.want)
		}
	}
}

// TestActorDocument_ProfileFields: a local account's fields go out as
// Mastodon's do, PropertyValue attachments with schema.org's terms in the
// context, and read back as the same fields; an account without fields
// has no attachment at all.
func TestActorDocument_ProfileFields(t *testing.T) {
	site := Site{Scheme: "https", Host: "starling.example"}
	tests := []struct {
		name   string
		fields []starling.Field
	}{
		{"OKNone", nil},
		{"OKTwo", []starling.Field{{Name: "Pronouns", Value: "they/them"},
			{Name: "Site", Value: `<a href="https://s.example" rel="me nofollow noopener noreferrer" target="_blank">s.example</a>`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := site.NewLocalAccount("alice", "PEM", "")
			a.Fields = tt.fields
			b, err := json.Marshal(site.ActorDocument(a))
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Context    []any            `json:"@context"`
				Attachment []map[string]any `json:"attachment"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Attachment) != len(tt.fields) {
				t.Fatalf("%d attachments for %d fields: %s", len(doc.Attachment), len(tt.fields), b)
			}
			for i, f := range tt.fields {
				want := map[string]any{"type": "PropertyValue", "name": f.Name, "value": f.Value}
				if fmt.Sprint(doc.Attachment[i]) != fmt.Sprint(want) {
					t.Errorf("attachment %d is %v, want %v", i, doc.Attachment[i], want)
				}
			}
			terms := map[string]any{}
			for _, c := range doc.Context {
				if m, ok := c.(map[string]any); ok {
					terms = m
				}
			}
			for term, iri := range map[string]string{"schema": "http://schema.org#", "PropertyValue": "schema:PropertyValue",
				"value": "schema:value", "manuallyApprovesFollowers": "as:manuallyApprovesFollowers"} {
				if terms[term] != iri {
					t.Errorf("context defines %s as %v, want %s", term, terms[term], iri)
				}
			}
			var back activitypub.Actor
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if got := profileFields(sanitize.New(), back.Attachment); len(got) != len(tt.fields) ||
				(len(got) > 0 && fmt.Sprint(got) != fmt.Sprint(tt.fields)) {
				t.Errorf("read back as %q, want %q", got, tt.fields)
			}
		})
	}
}
