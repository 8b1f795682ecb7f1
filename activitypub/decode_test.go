package activitypub

import (
	"encoding/json"
	"errors"
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

func TestStatusFields(t *testing.T) {
	tests := []struct {
		name string
		obj  string
		want StatusFields
	}{
		{"MisskeyContent", `{"type":"Note","_misskey_content":"a <b>\nc","_misskey_quote":"https://m.example/n/1"}`,
			StatusFields{Content: "<p>a &lt;b&gt;<br>c</p>", QuoteURI: "https://m.example/n/1"}},
		{"ContentMap", `{"type":"Note","contentMap":{"fr":"<p>b</p>","de":"<p>a</p>"}}`, StatusFields{Content: "<p>a</p>"}},
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
