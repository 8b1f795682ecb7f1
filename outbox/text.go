package outbox

import (
	"html"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"mvdan.cc/xurls/v2"
)

// What a status's plain text holds besides text: links, @-mentions and
// #hashtags, found as Mastodon finds them (app/lib/text_formatter.rb,
// Account::MENTION_RE, Tag::HASHTAG_RE). Go's regexp has no look-behind, so
// the character before a match is checked by hand (precededBy).
var (
	// @user or @user@host; a username is [a-z0-9_] runs joined by . or -.
	mentionRe = regexp.MustCompile(`@([A-Za-z0-9_]+(?:[.\-]+[A-Za-z0-9_]+)*)(?:@([\p{L}\p{N}_]+(?:[.\-]+[\p{L}\p{N}_]+)*(?::[0-9]+)?))?`)
	// #tag: word characters with at least one letter.
	hashtagRe = regexp.MustCompile(`#([\p{L}\p{M}\p{N}_\x{00B7}\x{30FB}\x{200C}]*[\p{L}][\p{L}\p{M}\p{N}_\x{00B7}\x{30FB}\x{200C}]*)`)
	urlRe     = xurls.Strict()
	// What Mastodon hides of a link's text (URL_PREFIX_REGEX).
	urlPrefixRe = regexp.MustCompile(`^(https?://(www\.)?|xmpp:)`)
)

// entityKind is what a span of the text is.
type entityKind int

const (
	entityURL entityKind = iota
	entityMention
	entityHashtag
)

// entityRef is a span of the text to be marked up: [start, end) in bytes.
type entityRef struct {
	kind       entityKind
	start, end int
	text       string // the URL; the tag without '#'; the username for a mention
	host       string // a mention's host, empty when none was written
}

// precededBy reports whether the rune before byte offset i of s is one of
// those that make what follows not a mention or hashtag (a word character,
// or one of extra: "=/" for mentions, "=/)" for tags), so that
// "a@b", "x#y" and "http://h/#frag" are left alone.
func precededBy(s string, i int, extra string) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(extra, r)
}

// scanText finds the links, mentions and hashtags of text, in order and not
// overlapping. Links come first: a "#" or "@" inside a URL is part of it.
func scanText(text string) []entityRef {
	var out []entityRef
	taken := func(start, end int) bool {
		for _, e := range out {
			if start < e.end && e.start < end {
				return true
			}
		}
		return false
	}
	for _, m := range urlRe.FindAllStringIndex(text, -1) {
		u := text[m[0]:m[1]]
		lower := strings.ToLower(u)
		if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
			continue // Mastodon links web addresses only
		}
		out = append(out, entityRef{kind: entityURL, start: m[0], end: m[1], text: u})
	}
	for _, m := range mentionRe.FindAllStringSubmatchIndex(text, -1) {
		if precededBy(text, m[0], "=/") || taken(m[0], m[1]) {
			continue
		}
		e := entityRef{kind: entityMention, start: m[0], end: m[1], text: text[m[2]:m[3]]}
		if m[4] >= 0 {
			e.host = strings.ToLower(text[m[4]:m[5]])
		}
		out = append(out, e)
	}
	for _, m := range hashtagRe.FindAllStringSubmatchIndex(text, -1) {
		if precededBy(text, m[0], "=/)") || taken(m[0], m[1]) {
			continue
		}
		out = append(out, entityRef{kind: entityHashtag, start: m[0], end: m[1], text: text[m[2]:m[3]]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// normalizeText is what a status's text is stored and parsed as: trimmed,
// with Unix line ends.
func normalizeText(text string) string {
	return strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
}

// renderText turns normalized plain text into a status's HTML as Mastodon
// writes it: each entity marked up by link (nil: left as text), the rest
// escaped, paragraphs on blank lines, <br /> on single newlines.
func renderText(text string, entities []entityRef, link func(entityRef) string) string {
	var b strings.Builder
	pos := 0
	for _, e := range entities {
		b.WriteString(html.EscapeString(text[pos:e.start]))
		if s := link(e); s != "" {
			b.WriteString(s)
		} else {
			b.WriteString(html.EscapeString(text[e.start:e.end]))
		}
		pos = e.end
	}
	b.WriteString(html.EscapeString(text[pos:]))
	marked := b.String()
	b.Reset()
	for _, para := range strings.Split(marked, "\n\n") {
		para = strings.TrimSpace(para)
		if para == "" {
			continue
		}
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(para, "\n", "<br />"))
		b.WriteString("</p>")
	}
	return b.String()
}

// linkHTML is Mastodon's shortened link (TextFormatter.shortened_link): the
// scheme and "www." hidden, at most 30 characters shown, the rest hidden
// behind an ellipsis.
func linkHTML(u string) string {
	prefix := urlPrefixRe.FindString(u)
	rest := []rune(u[len(prefix):])
	display, suffix, class := string(rest), "", ""
	if len(rest) > 30 {
		display, suffix, class = string(rest[:30]), string(rest[30:]), "ellipsis"
	}
	return `<a href="` + html.EscapeString(u) + `" target="_blank" rel="nofollow noopener" translate="no">` +
		`<span class="invisible">` + html.EscapeString(prefix) + `</span>` +
		`<span class="` + class + `">` + html.EscapeString(display) + `</span>` +
		`<span class="invisible">` + html.EscapeString(suffix) + `</span></a>`
}

// mentionHTML is Mastodon's h-card mention link; shown is the username, or
// the full acct when two mentioned accounts share a username.
func mentionHTML(profileURL, shown string) string {
	return `<span class="h-card" translate="no"><a href="` + html.EscapeString(profileURL) +
		`" class="u-url mention">@<span>` + html.EscapeString(shown) + `</span></a></span>`
}

// hashtagHTML is Mastodon's hashtag link.
func hashtagHTML(tagURL, tag string) string {
	return `<a href="` + html.EscapeString(tagURL) + `" class="mention hashtag" rel="tag">#<span>` +
		html.EscapeString(tag) + `</span></a>`
}
