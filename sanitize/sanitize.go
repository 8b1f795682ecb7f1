// Package sanitize cleans text that other servers send before Starling
// stores or serves it. Mastodon clients render a status's content and an
// account's note as trusted HTML, so remote HTML is cut down to the
// elements and attributes Mastodon itself keeps (its MASTODON_STRICT
// policy); fields that clients show as text (display names, content
// warnings, profile field names) lose all markup.
//
// It is its own package because two stages share it: the inbox cleans
// statuses and the federation client cleans the actors it resolves.
package sanitize

import (
	"html"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
)

// Policy is safe for concurrent use once built; bluemonday policies are.
type Policy struct {
	rich   *bluemonday.Policy
	strict *bluemonday.Policy
}

// classes are the class names Mastodon keeps: microformats (h-card,
// u-url, …) and its own mention/hashtag/link-shortening classes. Any other
// class attribute is dropped whole.
var classes = regexp.MustCompile(`^(?:(?:h|p|u|dt|e)-[a-z0-9-]+|mention|hashtag|ellipsis|invisible|quote-inline)(?: (?:(?:h|p|u|dt|e)-[a-z0-9-]+|mention|hashtag|ellipsis|invisible|quote-inline))*$`)

// New builds the policy. Build it once and share it.
func New() *Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "span", "a", "del", "s", "pre", "blockquote", "code",
		"b", "strong", "u", "i", "em", "ul", "ol", "li", "ruby", "rt", "rp")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("rel", "translate").OnElements("a")
	p.AllowAttrs("translate").OnElements("span")
	p.AllowAttrs("class").Matching(classes).OnElements("a", "span", "p")
	p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
	p.AllowAttrs("reversed").Matching(regexp.MustCompile(`^(?:reversed)?$`)).OnElements("ol")
	p.AllowAttrs("value").Matching(bluemonday.Integer).OnElements("li")
	// Mastodon's link protocols; javascript:, data: and the rest go.
	p.AllowURLSchemes("http", "https", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "xmpp", "magnet", "gemini")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return &Policy{rich: p, strict: bluemonday.StrictPolicy()}
}

// HTML returns s with only the markup Mastodon keeps: paragraphs, breaks,
// links (to http(s) and a few other schemes, with rel="nofollow noopener
// noreferrer"), spans with microformat classes, and simple formatting.
// Scripts, styles and their contents, iframes, event handlers and every
// other attribute go; NUL bytes and invalid UTF-8 are removed first.
func (p *Policy) HTML(s string) string {
	return strings.TrimSpace(p.rich.Sanitize(Clean(s)))
}

// Text returns s as plain text: markup removed (with the contents of
// scripts and styles), entities decoded. Angle brackets left after
// decoding become ‹ and ›, so a field that a careless client renders as
// HTML still cannot open a tag.
func (p *Policy) Text(s string) string {
	t := html.UnescapeString(p.strict.Sanitize(Clean(s)))
	return strings.TrimSpace(brackets.Replace(t))
}

var brackets = strings.NewReplacer("<", "‹", ">", "›")

// Clean removes NUL bytes and replaces invalid UTF-8, which PostgreSQL's
// text columns refuse.
func Clean(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// Valid reports whether s is text a store can hold as it is: valid UTF-8
// without NUL bytes.
func Valid(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
