package federation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/sanitize"
)

// TestProfileFieldsSamples reads the profile fields of real actors
// (testdata/samples, see SOURCES.md there): Mastodon's links with their
// microformat classes, Takahē's single attachment object, WordPress's Link
// beside its PropertyValue, Misskey's and Friendica's links.
func TestProfileFieldsSamples(t *testing.T) {
	type field struct{ name, valueHas string }
	tests := []struct {
		file string
		want []field
	}{
		{"mastodon/actor-service.json", []field{
			{"code", `<a href="https://codeberg.org/spla/stats" rel="nofollow noopener noreferrer me" translate="no" target="_blank"><span class="invisible">https://</span>`},
			{"my user-agent", "fediverse"},
			{"coded by", `<a href="https://mastodont.cat/@spla" class="u-url mention"`},
		}},
		{"takahe/actor-person.json", []field{{"More details", `href="https://fedivision.party/vote"`}}},
		{"wordpress/actor-group.json", []field{{"Blog", `href="https://dbzer0.com/"`}}},
		{"misskey/actor-live-https-misskey-io-syuilo.json", []field{{"写真集", `href="https://syuilo.github.io/photos.html"`}}},
		{"friendica/actor-live-tobias-friendi-ca.json", []field{
			{"Blog", `href="https://friendi.ca/"`}, {"Profile", `href="https://friendi.ca/author/tobias/"`}}},
	}
	p := sanitize.New()
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "activitypub", "testdata", "samples", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var doc activitypub.Actor
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			got := profileFields(p, doc.Attachment)
			if len(got) != len(tt.want) {
				t.Fatalf("%d fields %q, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if got[i].Name != w.name || !strings.Contains(got[i].Value, w.valueHas) {
					t.Errorf("field %d is %q: %q, want %q: …%s…", i, got[i].Name, got[i].Value, w.name, w.valueHas)
				}
			}
		})
	}
}
