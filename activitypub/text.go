package activitypub

import (
	"fmt"
	"html"
	"net/url"
	"strings"
)

// TextToHTML turns plain text typed in a client into the HTML a status
// carries: escaped, paragraphs on blank lines, <br> on single newlines.
func TextToHTML(text string) string {
	text = strings.ReplaceAll(strings.TrimSpace(text), "\r\n", "\n")
	if text == "" {
		return ""
	}
	var b strings.Builder
	for _, para := range strings.Split(text, "\n\n") {
		para = strings.TrimSpace(para)
		if para == "" {
			continue
		}
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(html.EscapeString(para), "\n", "<br />"))
		b.WriteString("</p>")
	}
	return b.String()
}

// HostOf returns the host (with port) of an absolute URL, lower-cased.
func HostOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", raw, err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return strings.ToLower(u.Host), nil
}

// SameHost reports whether two absolute URLs share a host.
func SameHost(a, b string) bool {
	ha, err1 := HostOf(a)
	hb, err2 := HostOf(b)
	return err1 == nil && err2 == nil && ha == hb
}

// ClipForError shortens remote input quoted in an error message.
func ClipForError(s string) string {
	const n = 32
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
