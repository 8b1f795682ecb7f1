package activitypub

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Decoding what real servers emit. JSON-LD lets every property be a single
// value or an array, an embedded object or a bare IRI, and servers use all
// of these; the types here accept every form seen in the samples under
// testdata (Mastodon, Misskey, Pleroma/Akkoma, GoToSocial, PeerTube, Lemmy,
// Friendica and others) without a JSON-LD processor: Starling reads the
// compacted form with the ActivityStreams context, which is what all of
// them send.

// DecodeError is a document Starling cannot accept. Its message is short and
// safe to show to the sender (it goes into a 400 body).
type DecodeError struct {
	Msg string
	Err error
}

func (e *DecodeError) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// IsStatusType reports whether objects of type t become statuses. Audio and
// Image (Funkwhale tracks, Pixelfed-style posts) are statuses too, as on
// Mastodon, which converts them with their name and link.
func IsStatusType(t string) bool {
	switch t {
	case "Note", "Article", "Page", "Question", "Video", "Event", "Audio", "Image":
		return true
	}
	return false
}

// isActivityType reports whether t is an activity type Starling knows of.
func isActivityType(t string) bool {
	switch t {
	case "Create", "Update", "Delete", "Follow", "Accept", "Reject", "TentativeAccept",
		"TentativeReject", "Undo", "Announce", "Like", "Dislike", "EmojiReact", "Block",
		"Flag", "Move", "Add", "Remove", "Invite", "Join", "Leave", "Offer", "Read", "View",
		"Listen", "Ignore", "Question":
		return true
	}
	return false
}

// isObjectType reports whether t is a type Starling knows for an object,
// which may itself be an embedded activity (the Follow inside an Accept).
func isObjectType(t string) bool {
	switch t {
	case "Tombstone", "Person", "Service", "Application", "Group", "Organization",
		"Collection", "OrderedCollection", "CollectionPage", "OrderedCollectionPage",
		"Document", "Link", "Mention", "Hashtag", "Emoji", "Place", "Profile", "ChatMessage":
		return true
	}
	return IsStatusType(t) || isActivityType(t)
}

// Prefixes a compacted type may keep when the sender's @context does not
// define the term: "as:Note", or the full IRI. Mastodon matches types
// without them.
var typePrefixes = []string{"as:", ActivityStreamsNS + "#", "toot:", "http://joinmastodon.org/ns#"}

// bareType strips the vocabulary prefix of a type name.
func bareType(t string) string {
	for _, p := range typePrefixes {
		if rest, ok := strings.CutPrefix(t, p); ok {
			return rest
		}
	}
	return t
}

// types is a type property: one name or, as JSON-LD allows, an array of
// them (["Note", "Article"]).
type types []string

// UnmarshalJSON accepts a string, an array of strings, or null.
func (ts *types) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*ts = nil
		return nil
	case b[0] == '[':
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*ts = list
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*ts = types{one}
	return nil
}

// pick returns the first type known says it knows, without its prefix, or
// else the first type: a document typed ["Note", "Article"] is a Note, not
// refused.
func (ts types) pick(known func(string) bool) string {
	for _, t := range ts {
		if known(bareType(t)) {
			return bareType(t)
		}
	}
	if len(ts) > 0 {
		return bareType(ts[0])
	}
	return ""
}

// UnmarshalJSON decodes an object whose type may be an array or prefixed.
func (o *Object) UnmarshalJSON(b []byte) error {
	type plain Object
	v := struct {
		*plain
		Type types `json:"type"` // shadows plain's Type
	}{plain: (*plain)(o)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Type = v.Type.pick(isObjectType)
	return nil
}

// UnmarshalJSON decodes an activity whose type may be an array or prefixed.
func (a *Activity) UnmarshalJSON(b []byte) error {
	type plain Activity
	v := struct {
		*plain
		Type types `json:"type"` // shadows plain's Type
	}{plain: (*plain)(a)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.Type = v.Type.pick(isActivityType)
	return nil
}

// List is a property that servers send as one value or an array of them.
// Elements that do not decode as T (a bare IRI where an object is expected,
// say) are skipped rather than failing the whole document.
type List[T any] []T

// UnmarshalJSON accepts a single value or an array.
func (l *List[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	var raws []json.RawMessage
	if b[0] == '[' {
		if err := json.Unmarshal(b, &raws); err != nil {
			return err
		}
	} else {
		raws = []json.RawMessage{b}
	}
	out := make(List[T], 0, len(raws))
	for _, r := range raws {
		var v T
		if err := json.Unmarshal(r, &v); err == nil {
			out = append(out, v)
		}
	}
	*l = out
	return nil
}

// Tag is an entry of an object's tag property: a Mention, a Hashtag, a
// custom Emoji, or a Link (FEP-e232 object links, quotes among them).
type Tag struct {
	Type      string `json:"type,omitempty"` // without its "as:" prefix; the first known of an array
	Name      string `json:"name,omitempty"`
	Href      string `json:"href,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	Icon      Ref    `json:"icon,omitzero"` // an Emoji's image
}

// UnmarshalJSON decodes a tag whose type may be an array or prefixed.
func (t *Tag) UnmarshalJSON(b []byte) error {
	type plain Tag
	v := struct {
		*plain
		Type types `json:"type"` // shadows plain's Type
	}{plain: (*plain)(t)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t.Type = v.Type.pick(func(s string) bool {
		return s == "Mention" || s == "Hashtag" || s == "Emoji" || s == "Link"
	})
	return nil
}

// kind is what the tag is, as Mastodon reads it: its type, or for an
// untyped tag, a Hashtag when its name starts with '#' and a Mention when
// it starts with '@'.
func (t Tag) kind() string {
	if t.Type != "" {
		return t.Type
	}
	switch {
	case strings.HasPrefix(t.Name, "#"):
		return "Hashtag"
	case strings.HasPrefix(t.Name, "@"):
		return "Mention"
	}
	return ""
}

// iconURL is the URL of an Emoji's image: icon.url, or the icon itself
// when it is a bare IRI or a Link.
func (t Tag) iconURL() string {
	if len(t.Icon.Raw) > 0 {
		var img struct {
			URL Ref `json:"url"`
		}
		if err := json.Unmarshal(t.Icon.Raw, &img); err == nil && img.URL.ID != "" {
			return img.URL.ID
		}
	}
	return t.Icon.ID
}

// Emoji is a custom emoji a status uses, as Mastodon keeps it.
type Emoji struct {
	Shortcode string // without the colons
	URL       string
	StaticURL string // the same image: Starling does not render still copies
}

// emojiShortcode is Mastodon's rule for a custom emoji's name.
var emojiShortcode = regexp.MustCompile(`^[a-zA-Z0-9_]{2,}$`)

// Attachment is a media attachment (a Document, Image, Video or Audio,
// as Mastodon sends them: mediaType, url, name as the description,
// blurhash, width, height, focalPoint) or a link.
type Attachment struct {
	Type       string    `json:"type"`
	MediaType  string    `json:"mediaType,omitempty"`
	Name       string    `json:"name,omitempty"`
	URL        Ref       `json:"url,omitzero"`
	Href       string    `json:"href,omitempty"` // Lemmy sends Link attachments
	Blurhash   string    `json:"blurhash,omitempty"`
	Width      int       `json:"width,omitempty"`
	Height     int       `json:"height,omitempty"`
	FocalPoint []float64 `json:"focalPoint,omitempty"`
}

// IsMedia reports whether a is a picture, video or sound to show with the
// status (rather than a link to write after its text).
func (a Attachment) IsMedia() bool {
	switch a.Type {
	case "Document", "Image", "Video", "Audio":
	default:
		return false
	}
	mt := strings.ToLower(a.MediaType)
	return IsHTTPURL(a.Link()) && (mt == "" || strings.HasPrefix(mt, "image/") ||
		strings.HasPrefix(mt, "video/") || strings.HasPrefix(mt, "audio/"))
}

// Link returns where the attachment lives.
func (a Attachment) Link() string {
	if a.URL.ID != "" {
		return a.URL.ID
	}
	return a.Href
}

// PollOption is a choice of a Question.
type PollOption struct {
	Name string `json:"name"`
}

// Source is the unrendered text of an object (Misskey MFM, Lemmy markdown).
type Source struct {
	Content   string `json:"content"`
	MediaType string `json:"mediaType"`
}

// UnmarshalJSON accepts an object or a bare string (Pleroma sends the
// source text alone).
func (s *Source) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &s.Content)
	}
	type plain Source
	return json.Unmarshal(b, (*plain)(s))
}

// StatusFields are what a status is made of, normalised from an object.
type StatusFields struct {
	Content   string // HTML
	Summary   string // content warning
	Sensitive bool
	QuoteURI  string
	Mentions  []string     // actor IRIs
	Hashtags  []string     // lower case, without '#'
	Language  string       // a BCP 47 tag from contentMap, or empty
	Emojis    []Emoji      // custom emojis, one per shortcode
	Media     []Attachment // pictures, videos and sounds, in order
}

// StatusFields renders o as a status: the content (from content, else
// contentMap, else _misskey_content or source), with the title of an
// Article, Page, Video or Event before it, the options of a poll and the
// links of attachments after it; summary as the content warning; mentions
// and hashtags from tag; and the quoted post from whichever of the four
// quote properties was sent.
func (o *Object) StatusFields() StatusFields {
	var b strings.Builder
	if o.Name != "" && o.Type != "Note" && o.Type != "Question" {
		b.WriteString("<p><strong>" + html.EscapeString(o.Name) + "</strong></p>")
	}
	body := o.bodyHTML()
	if body == "" && o.URL.ID != "" && o.URL.ID != o.ID && IsHTTPURL(o.URL.ID) {
		// A Lemmy link or image post: the link is the post.
		body = `<p><a href="` + html.EscapeString(o.URL.ID) + `">` + html.EscapeString(o.URL.ID) + `</a></p>`
	}
	b.WriteString(body)
	var options []PollOption
	options = append(options, o.OneOf...)
	options = append(options, o.AnyOf...)
	if len(options) > 0 {
		b.WriteString("<ul>")
		for _, opt := range options {
			b.WriteString("<li>" + html.EscapeString(opt.Name) + "</li>")
		}
		b.WriteString("</ul>")
	}
	var media []Attachment
	for _, a := range o.Attachment {
		link := a.Link()
		if link == "" || !IsHTTPURL(link) {
			continue
		}
		if a.IsMedia() {
			media = append(media, a) // shown as the status's media
			continue
		}
		text := a.Name
		if text == "" {
			text = link
		}
		b.WriteString(`<p><a href="` + html.EscapeString(link) + `">` + html.EscapeString(text) + `</a></p>`)
	}

	f := StatusFields{Content: b.String(), Summary: o.Summary, Sensitive: o.Sensitive || o.Summary != "", Media: media}
	for _, q := range []string{o.Quote.ID, o.QuoteURL, o.QuoteURI, o.MisskeyQuote} {
		if q != "" {
			f.QuoteURI = q
			break
		}
	}
	quoteLink := ""
	for _, t := range o.Tag {
		switch t.kind() {
		case "Mention":
			if IsHTTPURL(t.Href) && !slices.Contains(f.Mentions, t.Href) {
				f.Mentions = append(f.Mentions, t.Href)
			}
		case "Hashtag":
			name := strings.ToLower(strings.TrimPrefix(t.Name, "#"))
			if name != "" && !slices.Contains(f.Hashtags, name) {
				f.Hashtags = append(f.Hashtags, name)
			}
		case "Emoji":
			code, url := strings.ReplaceAll(t.Name, ":", ""), t.iconURL()
			if emojiShortcode.MatchString(code) && IsHTTPURL(url) &&
				!slices.ContainsFunc(f.Emojis, func(e Emoji) bool { return e.Shortcode == code }) {
				f.Emojis = append(f.Emojis, Emoji{Shortcode: code, URL: url, StaticURL: url})
			}
		case "Link":
			// FEP-e232: a link to an ActivityStreams object is a quote
			// when no quote property says otherwise.
			if quoteLink == "" && IsActivityPubMediaType(t.MediaType) && IsHTTPURL(t.Href) && t.Href != o.ID {
				quoteLink = t.Href
			}
		}
	}
	if f.QuoteURI == "" {
		f.QuoteURI = quoteLink
	}
	f.Language = o.language(body)
	return f
}

// languageTag is what a language key must look like to be kept (BCP 47's
// shape, loosely): anything else a server puts there is dropped.
var languageTag = regexp.MustCompile(`^[a-zA-Z]{2,8}(?:-[a-zA-Z0-9]{1,8})*$`)

// language is the language of the status whose body is body: the
// contentMap key whose text is that body, or the only key there is.
// "und" (undetermined) is no language.
func (o *Object) language(body string) string {
	lang := ""
	if body != "" {
		keys := make([]string, 0, len(o.ContentMap))
		for k, v := range o.ContentMap {
			if v == body {
				keys = append(keys, k)
			}
		}
		if len(keys) > 0 {
			sort.Strings(keys)
			lang = keys[0]
		}
	}
	if lang == "" && len(o.ContentMap) == 1 {
		for k := range o.ContentMap {
			lang = k
		}
	}
	if strings.EqualFold(lang, "und") || !languageTag.MatchString(lang) {
		return ""
	}
	return lang
}

// IsPollVote reports whether o is a vote in a poll rather than a post:
// Mastodon and GoToSocial send a vote as a Note with the option's name, no
// content, in reply to the Question.
func (o *Object) IsPollVote() bool {
	return o.Type == "Note" && o.Name != "" && o.Content == "" && len(o.ContentMap) == 0 && o.InReplyTo.ID != ""
}

func (o *Object) bodyHTML() string {
	if o.Content != "" {
		return o.Content
	}
	if len(o.ContentMap) > 0 {
		for _, lang := range []string{"und", "en"} {
			if c := o.ContentMap[lang]; c != "" {
				return c
			}
		}
		langs := make([]string, 0, len(o.ContentMap))
		for l := range o.ContentMap {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		return o.ContentMap[langs[0]]
	}
	text := o.MisskeyContent
	if text == "" && o.Source != nil {
		text = o.Source.Content
	}
	if text == "" {
		return ""
	}
	// Plain text or markup we do not render: show it as text.
	return "<p>" + strings.ReplaceAll(html.EscapeString(text), "\n", "<br>") + "</p>"
}

// IsHTTPURL reports whether s is an absolute http or https URL.
func IsHTTPURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// DecodeActivity decodes an activity received in an inbox and checks what
// every activity needs before it is stored: an id (one is derived from the
// content for a transient activity sent without), a type and an actor, an
// embedded status object that has an id on its actor's host, and an
// EmojiReact that carries one emoji. Unknown types pass: they are stored and
// acknowledged. Every rejection is a *DecodeError.
func DecodeActivity(body []byte) (*Activity, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, &DecodeError{Msg: "body is not a JSON object"}
	}
	var act Activity
	if err := json.Unmarshal(body, &act); err != nil {
		return nil, &DecodeError{Msg: "body is not a JSON activity", Err: err}
	}
	if act.ID == "" && act.Actor.ID != "" && IsHTTPURL(act.Actor.ID) {
		// ActivityStreams allows transient activities without an id (GoToSocial
		// sends such Deletes). Name it by its content, under its actor, so a
		// replay is still stored once.
		sum := sha256.Sum256(body)
		act.ID = act.Actor.ID + "#transient-" + hex.EncodeToString(sum[:16])
	}
	switch {
	case act.ID == "":
		return nil, &DecodeError{Msg: "activity has no id"}
	case act.Type == "":
		return nil, &DecodeError{Msg: "activity has no type"}
	case act.Actor.ID == "":
		return nil, &DecodeError{Msg: "activity has no actor"}
	case !IsHTTPURL(act.ID) || !IsHTTPURL(act.Actor.ID):
		return nil, &DecodeError{Msg: "activity id and actor must be http(s) IRIs"}
	}
	if act.Type == "EmojiReact" && !isSingleEmoji(act.Content) {
		return nil, &DecodeError{Msg: "EmojiReact content must be a single emoji"}
	}
	if (act.Type == "Create" || act.Type == "Update") && len(act.Object.Raw) > 0 {
		var obj Object
		if err := json.Unmarshal(act.Object.Raw, &obj); err != nil {
			return nil, &DecodeError{Msg: "activity object is malformed", Err: err}
		}
		if IsStatusType(obj.Type) {
			if obj.ID == "" {
				return nil, &DecodeError{Msg: "object has no id"}
			}
			// An actor speaks only for its own host's objects: anything
			// else is a spoof, or needs a fetch from its origin.
			if !SameHost(obj.ID, act.Actor.ID) {
				return nil, &DecodeError{Msg: "object is not on its actor's host"}
			}
		}
	}
	return &act, nil
}

// DecodeFetchedObject decodes an object fetched from fetchedFrom. Its id must
// be the URL it was fetched from: a server that answers for a URL with an
// object of another id (even on its own host) could make us store anything
// under any name.
func DecodeFetchedObject(fetchedFrom string, body []byte) (*Object, error) {
	var obj Object
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, &DecodeError{Msg: "document is not a JSON object", Err: err}
	}
	if obj.ID == "" || obj.Type == "" {
		return nil, &DecodeError{Msg: "object needs an id and a type"}
	}
	if obj.ID != fetchedFrom {
		return nil, &DecodeError{Msg: fmt.Sprintf("object id %q is not the URL it was fetched from", ClipForError(obj.ID))}
	}
	return &obj, nil
}

// isSingleEmoji reports whether s is one emoji: a custom ":shortcode:", or a
// single grapheme made of emoji code points (with modifiers, variation
// selectors, joiners, keycaps, tags or a flag pair).
func isSingleEmoji(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	if len(s) > 2 && s[0] == ':' && s[len(s)-1] == ':' && !strings.ContainsAny(s[1:len(s)-1], ": \t\n") {
		return true
	}
	if !utf8.ValidString(s) {
		return false
	}
	bases, regional := 0, 0
	joined := false
	for _, r := range s {
		switch {
		case r == 0x200D: // zero-width joiner: the next base joins this one
			joined = true
			continue
		case r == 0xFE0E || r == 0xFE0F, r == 0x20E3, // variation selectors, keycap
			r >= 0x1F3FB && r <= 0x1F3FF, // skin tones
			r >= 0xE0020 && r <= 0xE007F: // tag characters (subdivision flags)
			continue
		case r >= 0x1F1E6 && r <= 0x1F1FF: // regional indicators pair into one flag
			regional++
			if regional%2 == 0 {
				continue
			}
		}
		if joined {
			joined = false
			continue
		}
		bases++
	}
	return bases == 1
}

// ErrNotActivity is returned by EmbeddedActivity for an object that is not
// an activity.
var ErrNotActivity = errors.New("not an embedded activity")

// EmbeddedActivity decodes ref as an activity embedded in another one (the
// Create inside a Lemmy community's Announce).
func EmbeddedActivity(ref Ref) (*Activity, error) {
	if len(ref.Raw) == 0 {
		return nil, ErrNotActivity
	}
	var act Activity
	if err := json.Unmarshal(ref.Raw, &act); err != nil {
		return nil, err
	}
	if act.ID == "" || act.Type == "" || act.Actor.ID == "" {
		return nil, ErrNotActivity
	}
	return &act, nil
}
