package activitypub

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestIsSingleEmoji(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"👌", true},
		{"❤️", true},        // with variation selector
		{"👍🏽", true},        // skin tone
		{"👩‍👩‍👧", true},     // ZWJ family
		{"🇫🇷", true},        // flag pair
		{"1️⃣", true},       // keycap
		{":blobcat:", true}, // custom emoji
		{"👌👌", false},
		{"🇫🇷🇩🇪", false},
		{"", false},
		{"ok", false},
		{":a b:", false},
		{"::", false},
	}
	for _, tt := range tests {
		if got := isSingleEmoji(tt.in); got != tt.want {
			t.Errorf("isSingleEmoji(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeActivity(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // substring of the DecodeError; empty means accepted
		wantID  string
	}{
		{name: "OK", in: `{"id":"https://a.example/1","type":"Like","actor":"https://a.example/u","object":"https://b.example/n"}`, wantID: "https://a.example/1"},
		{name: "OKUnknownType", in: `{"id":"https://a.example/1","type":"Wiggle","actor":{"id":"https://a.example/u"}}`, wantID: "https://a.example/1"},
		{name: "OKContextVariants", in: `{"@context":["https://www.w3.org/ns/activitystreams",{"@language":"und"}],"id":"https://a.example/1","type":"Follow","actor":["https://a.example/u"],"object":"https://b.example/u"}`, wantID: "https://a.example/1"},
		{name: "OKTransient", in: `{"type":"Delete","actor":"https://a.example/u","object":"https://a.example/n"}`, wantID: "https://a.example/u#transient-"},
		{name: "ErrNotJSON", in: `hello`, wantErr: "not a JSON object"},
		{name: "ErrArray", in: `[{"id":"x"}]`, wantErr: "not a JSON object"},
		{name: "ErrBadJSON", in: `{"id":`, wantErr: "not a JSON activity"},
		{name: "ErrTypeMismatch", in: `{"id":5,"type":"Like","actor":"https://a.example/u"}`, wantErr: "not a JSON activity"},
		// Used to panic: json.UnmarshalTypeError without a Type.
		{name: "ErrNumberAsIRI", in: `{"id":"https://a.example/1","type":"Like","actor":"https://a.example/u","to":5}`, wantErr: "not a JSON activity"},
		{name: "ErrNoType", in: `{"id":"https://a.example/1","actor":"https://a.example/u"}`, wantErr: "no type"},
		{name: "ErrNoActor", in: `{"id":"https://a.example/1","type":"Like"}`, wantErr: "no actor"},
		{name: "ErrNotHTTP", in: `{"id":"urn:x","type":"Like","actor":"https://a.example/u"}`, wantErr: "http(s) IRIs"},
		{name: "ErrEmojiReact", in: `{"id":"https://a.example/1","type":"EmojiReact","actor":"https://a.example/u","content":"no"}`, wantErr: "single emoji"},
		{name: "ErrObjectNoID", in: `{"id":"https://a.example/1","type":"Create","actor":"https://a.example/u","object":{"type":"Note","content":"x"}}`, wantErr: "object has no id"},
		{name: "ErrSpoof", in: `{"id":"https://a.example/1","type":"Create","actor":"https://a.example/u","object":{"id":"https://b.example/n","type":"Note"}}`, wantErr: "not on its actor's host"},
		{name: "ErrObjectMalformed", in: `{"id":"https://a.example/1","type":"Create","actor":"https://a.example/u","object":{"id":"https://a.example/n","type":"Note","content":7}}`, wantErr: "object is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act, err := DecodeActivity([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(act.ID, tt.wantID) {
					t.Errorf("id %q, want %q", act.ID, tt.wantID)
				}
				return
			}
			var derr *DecodeError
			if !errors.As(err, &derr) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want a DecodeError with %q", err, tt.wantErr)
			}
		})
	}
}

// TestObjectTypes: types are matched as Mastodon matches them, so objects
// and activities typed with an array or a prefix are not lost, and Audio
// and Image objects become statuses.
func TestObjectTypes(t *testing.T) {
	tests := []struct {
		name, obj, want string
		status          bool
	}{
		{"Plain", `{"type":"Note"}`, "Note", true},
		{"ArrayFirstKnown", `{"type":["Note","Article"]}`, "Note", true},
		{"ArraySkipsUnknown", `{"type":["schema:Thing","Article"]}`, "Article", true},
		{"Prefixed", `{"type":"as:Page"}`, "Page", true},
		{"Audio", `{"type":"Audio"}`, "Audio", true},
		{"Image", `{"type":["Image"]}`, "Image", true},
		{"Tombstone", `{"type":"Tombstone"}`, "Tombstone", false},
		{"UnknownArray", `{"type":["x:A","x:B"]}`, "x:A", false},
		{"None", `{}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Object
			if err := json.Unmarshal([]byte(tt.obj), &o); err != nil {
				t.Fatal(err)
			}
			if o.Type != tt.want || IsStatusType(o.Type) != tt.status {
				t.Errorf("type %q (status %v), want %q (%v)", o.Type, IsStatusType(o.Type), tt.want, tt.status)
			}
		})
	}
	var o Object
	if err := json.Unmarshal([]byte(`{"type":5}`), &o); err == nil {
		t.Error("a number as type decoded")
	}

	for in, want := range map[string]TypeName{
		`"Person"`: "Person", `["Person","vcard:individual"]`: "Person", `"as:Service"`: "Service",
		`["as:Application"]`: "Application", `["vcard:x"]`: "vcard:x", `null`: "",
	} {
		var a Actor
		if err := json.Unmarshal([]byte(`{"type":`+in+`}`), &a); err != nil || a.Type != want {
			t.Errorf("actor type %s: %q (%v), want %q", in, a.Type, err, want)
		}
	}

	act, err := DecodeActivity([]byte(`{"id":"https://a.example/1","type":["Create","as:Activity"],"actor":"https://a.example/u",
		"object":{"id":"https://a.example/n","type":["Note","Article"],"content":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if act.Type != "Create" {
		t.Errorf("activity type %q, want Create", act.Type)
	}
	if _, err := DecodeActivity([]byte(`{"id":"https://a.example/1","type":["Create"],"actor":"https://a.example/u",
		"object":{"id":"https://b.example/n","type":["Note","Article"]}}`)); err == nil {
		t.Error("a spoofed Note typed with an array passed the same-host check")
	}
}

// TestStatusFieldsSamples decodes real documents (testdata/samples, see
// SOURCES.md there) and checks what a status keeps of them.
func TestStatusFieldsSamples(t *testing.T) {
	tests := []struct {
		file string
		want func(t *testing.T, o *Object, f StatusFields)
	}{
		{"gotosocial/note-tags.json", func(t *testing.T, o *Object, f StatusFields) {
			want := []Emoji{{Shortcode: "rainbow",
				URL:       "http://localhost:8080/fileserver/01AY6P665V14JJR0AFVRT7311Y/emoji/original/01F8MH9H8E4VG3KDYJR9EGPXCQ.png",
				StaticURL: "http://localhost:8080/fileserver/01AY6P665V14JJR0AFVRT7311Y/emoji/original/01F8MH9H8E4VG3KDYJR9EGPXCQ.png"}}
			if !slices.Equal(f.Emojis, want) {
				t.Errorf("emojis %+v, want %+v", f.Emojis, want)
			}
			if !slices.Equal(f.Hashtags, []string{"welcome"}) || f.Language != "en" {
				t.Errorf("hashtags %q language %q", f.Hashtags, f.Language)
			}
		}},
		{"mastodon/create-note-contentmap.json", func(t *testing.T, o *Object, f StatusFields) {
			if f.Language != "en" || !strings.Contains(f.Content, "lain") {
				t.Errorf("language %q content %q", f.Language, f.Content)
			}
			if !slices.Equal(f.Mentions, []string{"http://localtesting.pleroma.lol/users/lain"}) {
				t.Errorf("mentions %q", f.Mentions)
			}
		}},
		{"mastodon/create-direct-message.json", func(t *testing.T, o *Object, f StatusFields) {
			if f.Language != "es" || !slices.Equal(f.Mentions, []string{"https://ds9.lemmy.ml/u/nutomic"}) {
				t.Errorf("language %q mentions %q", f.Language, f.Mentions)
			}
		}},
		{"fedibird/note-quote.json", func(t *testing.T, o *Object, f StatusFields) {
			if f.Language != "ja" || f.QuoteURI != "https://example.com/objects/43479e20-c0f8-4f49-bf7f-13fab8234924" {
				t.Errorf("language %q quote %q", f.Language, f.QuoteURI)
			}
		}},
		{"funkwhale/create-audio.json", func(t *testing.T, o *Object, f StatusFields) {
			if !IsStatusType(o.Type) || o.Type != "Audio" {
				t.Errorf("type %q is not a status", o.Type)
			}
			if !slices.Equal(f.Hashtags, []string{"funkwhale", "test", "tests"}) {
				t.Errorf("hashtags %q", f.Hashtags)
			}
			if !strings.Contains(f.Content, "Compositions - Test Audio for Pleroma") || !strings.Contains(f.Content, "This is a test Audio") {
				t.Errorf("content %q", f.Content)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "samples", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var o Object
			if act, err := DecodeActivity(raw); err == nil && len(act.Object.Raw) > 0 {
				raw = act.Object.Raw
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatal(err)
			}
			tt.want(t, &o, o.StatusFields())
		})
	}
}

func TestStatusFields(t *testing.T) {
	tests := []struct {
		name string
		obj  string
		want StatusFields
	}{
		{"MisskeyContent", `{"type":"Note","_misskey_content":"a <b>\nc","_misskey_quote":"https://m.example/n/1"}`,
			StatusFields{Content: "<p>a &lt;b&gt;<br>c</p>", QuoteURI: "https://m.example/n/1"}},
		{"ContentMap", `{"type":"Note","contentMap":{"fr":"<p>b</p>","de":"<p>a</p>"}}`, StatusFields{Content: "<p>a</p>", Language: "de"}},
		{"LanguageOfContent", `{"type":"Note","content":"<p>b</p>","contentMap":{"de":"<p>a</p>","fr":"<p>b</p>"}}`, StatusFields{Content: "<p>b</p>", Language: "fr"}},
		{"LanguageOnlyKey", `{"type":"Note","content":"<p>b</p>","contentMap":{"pt-BR":"<p>other</p>"}}`, StatusFields{Content: "<p>b</p>", Language: "pt-BR"}},
		{"LanguageUndetermined", `{"type":"Note","content":"x","contentMap":{"und":"x"}}`, StatusFields{Content: "x"}},
		{"LanguageJunk", `{"type":"Note","content":"x","contentMap":{"<b>":"x"}}`, StatusFields{Content: "x"}},
		{"LanguageAmbiguous", `{"type":"Note","content":"x","contentMap":{"de":"y","fr":"z"}}`, StatusFields{Content: "x"}},
		{"PrefixedTags", `{"type":"Note","content":"c","tag":[{"type":"as:Mention","href":"https://a.example/u"},{"type":"as:Hashtag","name":"#Go"},{"type":["as:Hashtag"],"name":"#Rust"},{"type":"https://www.w3.org/ns/activitystreams#Mention","href":"https://b.example/u"}]}`,
			StatusFields{Content: "c", Mentions: []string{"https://a.example/u", "https://b.example/u"}, Hashtags: []string{"go", "rust"}}},
		{"UntypedTags", `{"type":"Note","content":"c","tag":[{"name":"#Go","href":"https://a.example/tags/go"},{"name":"@u@a.example","href":"https://a.example/u"},{"name":"@nohref"},{"name":"plain","href":"https://a.example/x"}]}`,
			StatusFields{Content: "c", Mentions: []string{"https://a.example/u"}, Hashtags: []string{"go"}}},
		{"Emoji", `{"type":"Note","content":"c :blob: :cat:","tag":[{"type":"Emoji","name":":blob:","icon":{"type":"Image","url":"https://a.example/blob.png"}},{"type":"toot:Emoji","name":":cat:","icon":[{"url":{"type":"Link","href":"https://a.example/cat.png"}}]},{"type":"Emoji","name":":blob:","icon":{"url":"https://a.example/other.png"}},{"type":"Emoji","name":":x y:","icon":{"url":"https://a.example/x.png"}},{"type":"Emoji","name":":js:","icon":{"url":"javascript:alert(1)"}}]}`,
			StatusFields{Content: "c :blob: :cat:", Emojis: []Emoji{{"blob", "https://a.example/blob.png", "https://a.example/blob.png"}, {"cat", "https://a.example/cat.png", "https://a.example/cat.png"}}}},
		{"QuoteLinkFEPe232", `{"id":"https://a.example/n/2","type":"Note","content":"c","tag":[{"type":"Link","mediaType":"application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"","href":"https://b.example/n/1","name":"RE: https://b.example/n/1"}]}`,
			StatusFields{Content: "c", QuoteURI: "https://b.example/n/1"}},
		{"QuoteLinkActivityJSON", `{"id":"https://a.example/n/2","type":"Note","content":"c","tag":{"type":"as:Link","mediaType":"application/activity+json","href":"https://b.example/n/1"}}`,
			StatusFields{Content: "c", QuoteURI: "https://b.example/n/1"}},
		{"QuotePropertyWinsOverLink", `{"type":"Note","content":"c","quote":"https://c.example/q","tag":[{"type":"Link","mediaType":"application/activity+json","href":"https://b.example/n/1"}]}`,
			StatusFields{Content: "c", QuoteURI: "https://c.example/q"}},
		{"HTMLLinkIsNoQuote", `{"type":"Note","content":"c","tag":[{"type":"Link","mediaType":"text/html","href":"https://b.example/page"}]}`,
			StatusFields{Content: "c"}},
		{"Poll", `{"type":"Question","content":"q","anyOf":[{"name":"x"},{"name":"<y>"}]}`,
			StatusFields{Content: "q<ul><li>x</li><li>&lt;y&gt;</li></ul>"}},
		{"TitleAndAttachment", `{"type":"Page","name":"T","content":"c","attachment":{"type":"Link","href":"https://l.example/i.png"}}`,
			StatusFields{Content: `<p><strong>T</strong></p>c<p><a href="https://l.example/i.png">https://l.example/i.png</a></p>`}},
		{"CW", `{"type":"Note","content":"c","summary":"cw","tag":[{"type":"Mention","href":"https://a.example/u"},{"type":"Hashtag","name":"#Go"},"junk"]}`,
			StatusFields{Content: "c", Summary: "cw", Sensitive: true, Mentions: []string{"https://a.example/u"}, Hashtags: []string{"go"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Object
			if err := json.Unmarshal([]byte(tt.obj), &o); err != nil {
				t.Fatal(err)
			}
			got := o.StatusFields()
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.want)
			if string(gj) != string(wj) {
				t.Errorf("got  %s\nwant %s", gj, wj)
			}
		})
	}
}
