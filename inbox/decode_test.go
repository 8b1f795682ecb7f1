package inbox_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/starling-social/starling/activitypub"
)

// Malformed input is refused with a clear 400 and stores nothing.
func TestHandler_Malformed(t *testing.T) {
	rig := newSamplesRig(t)
	const actor = "https://remote.example/users/bob"
	rig.seedRemote(t, actor)
	tests := []struct {
		name, body, wantErr string
	}{
		{"NotJSON", `hello`, "not a JSON object"},
		{"Truncated", `{"id":"https://remote.example/a/1","type":"Create"`, "not a JSON activity"},
		{"NoType", `{"id":"https://remote.example/a/1","actor":"` + actor + `"}`, "no type"},
		{"NoActor", `{"id":"https://remote.example/a/1","type":"Like"}`, "no actor"},
		{"WrongShape", `{"id":"https://remote.example/a/1","type":"Like","actor":"` + actor + `","to":5}`, "not a JSON activity"},
		{"SpoofedObject", `{"id":"https://remote.example/a/1","type":"Create","actor":"` + actor + `","object":{"id":"https://else.example/n/1","type":"Note"}}`, "not on its actor's host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := rig.deliver(t, actor, []byte(tt.body))
			if status != http.StatusBadRequest || !strings.Contains(msg, tt.wantErr) {
				t.Fatalf("answered %d %s, want 400 with %q", status, msg, tt.wantErr)
			}
			if n, _ := rig.db.CountInboxActivities(t.Context(), "https://remote.example/a/1"); n != 0 {
				t.Fatal("stored")
			}
		})
	}
}

// A Lemmy community announces its members' posts embedded; one from the
// community's own host is taken as if delivered by its author, in the copy
// its origin serves (the community's signature vouches for its host, not
// for its members' words); one from elsewhere is acknowledged and left.
func TestProcessor_GroupAnnounce(t *testing.T) {
	rig := newSamplesRig(t)
	const (
		group  = "https://lemmy.example/c/tenforward"
		author = "https://lemmy.example/u/picard"
	)
	rig.seedRemote(t, group)
	rig.seedRemote(t, author)
	announce := func(id, innerActor, page string) []byte {
		b, _ := json.Marshal(map[string]any{
			"id": id, "type": "Announce", "actor": group, "to": activitypub.Public,
			"object": map[string]any{
				"id": page + "/create", "type": "Create", "actor": innerActor, "to": activitypub.Public,
				"object": map[string]any{"id": page, "type": "Page", "attributedTo": innerActor, "name": "Post title",
					"content": "<p>hello</p>", "to": activitypub.Public},
			},
		})
		return b
	}
	page, _ := json.Marshal(map[string]any{"id": "https://lemmy.example/post/1", "type": "Page", "attributedTo": author,
		"name": "Post title", "content": "<p>hello</p>", "to": activitypub.Public})
	rig.origin.serve("https://lemmy.example/post/1", page)
	if status, msg := rig.deliver(t, group, announce(group+"/announce/1", author, "https://lemmy.example/post/1")); status != http.StatusAccepted {
		t.Fatalf("%d %s", status, msg)
	}
	if err := rig.process(t, group+"/announce/1"); err != nil {
		t.Fatal(err)
	}
	st, err := rig.db.StatusByURI(t.Context(), "https://lemmy.example/post/1")
	if err != nil {
		t.Fatalf("announced page not stored: %v", err)
	}
	if st.Account.URI != author || !strings.Contains(st.Content, "Post title") {
		t.Errorf("status %+v by %s", st, st.Account.URI)
	}

	const foreign = "https://other.example/u/riker"
	rig.seedRemote(t, foreign)
	if status, msg := rig.deliver(t, group, announce(group+"/announce/2", foreign, "https://other.example/post/2")); status != http.StatusAccepted {
		t.Fatalf("%d %s", status, msg)
	}
	if err := rig.process(t, group+"/announce/2"); err != nil {
		t.Fatal(err)
	}
	if _, err := rig.db.StatusByURI(t.Context(), "https://other.example/post/2"); err == nil {
		t.Error("a post from another host was taken from an announce without a fetch")
	}
}

// FuzzDecodeActivity runs inbox decoding (activity, embedded object, status
// rendering) on arbitrary bodies, seeded with every sample of real servers'
// output; nothing may panic, and an accepted activity keeps its invariants.
func FuzzDecodeActivity(f *testing.F) {
	entries, err := os.ReadDir(samplesDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, dir := range entries {
		if !dir.IsDir() {
			continue
		}
		files, _ := os.ReadDir(path.Join(samplesDir, dir.Name()))
		for _, file := range files {
			if strings.HasSuffix(file.Name(), ".json") {
				b, err := os.ReadFile(path.Join(samplesDir, dir.Name(), file.Name()))
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
	// Found by TestHandler_Malformed: a number where an IRI belongs panicked.
	f.Add([]byte(`{"id":"https://a.example/1","type":"Like","actor":"https://a.example/u","to":5}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		act, err := activitypub.DecodeActivity(body)
		if err != nil {
			return
		}
		if act.ID == "" || act.Type == "" || act.Actor.ID == "" {
			t.Fatalf("accepted an activity without id, type or actor: %+v", act)
		}
		var obj activitypub.Object
		if len(act.Object.Raw) > 0 && json.Unmarshal(act.Object.Raw, &obj) == nil {
			_ = obj.StatusFields()
			_ = obj.IsPollVote()
		}
		_, _ = activitypub.EmbeddedActivity(act.Object)
	})
}

// An actor may update only its own profile.
func TestProcessor_UpdateOtherActor(t *testing.T) {
	rig := newSamplesRig(t)
	const bob, carol = "https://remote.example/users/bob", "https://remote.example/users/carol"
	rig.seedRemote(t, bob)
	before := rig.seedRemote(t, carol)
	body, _ := json.Marshal(map[string]any{
		"id": bob + "/updates/1", "type": "Update", "actor": bob,
		"object": map[string]any{"id": carol, "type": "Person", "preferredUsername": "carol", "name": "Evil",
			"inbox": carol + "/inbox", "publicKey": map[string]any{"id": carol + "#main-key", "owner": carol, "publicKeyPem": rig.keyPEM}},
	})
	if status, msg := rig.deliver(t, bob, body); status != http.StatusAccepted {
		t.Fatalf("%d %s", status, msg)
	}
	if err := rig.process(t, bob+"/updates/1"); err != nil {
		t.Fatal(err)
	}
	after, err := rig.db.AccountByURI(t.Context(), carol)
	if err != nil {
		t.Fatal(err)
	}
	if after.DisplayName != before.DisplayName {
		t.Errorf("bob renamed carol to %q", after.DisplayName)
	}
}
