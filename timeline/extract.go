package timeline

import (
	"html"
	"regexp"
	"strings"
)

var (
	anchorRe  = regexp.MustCompile(`(?i)<a\s[^>]*>`)
	hrefRe    = regexp.MustCompile(`(?i)\bhref\s*=\s*"([^"]*)"`)
	classRe   = regexp.MustCompile(`(?i)\bclass\s*=\s*"([^"]*)"`)
	tagRe     = regexp.MustCompile(`<[^>]*>`)
	hashtagRe = regexp.MustCompile(`(?:^|[^\p{L}\p{N}_&/#])#([\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*)`)
	mentionRe = regexp.MustCompile(`(?:^|[^\p{L}\p{N}_/@.])@([A-Za-z0-9_]+)(?:@([A-Za-z0-9.\-]+(?::[0-9]+)?[A-Za-z0-9]))?`)
)

// mentions are the @-mentions found in a status: accts (usernames[i] at
// domains[i], the domain empty for a local account) and, from remote HTML,
// the mentioned actors' URLs.
type mentions struct {
	usernames, domains, uris []string
}

// plainText strips a status's HTML to the text a reader sees.
func plainText(content string) string {
	content = strings.NewReplacer("<br>", "\n", "<br/>", "\n", "<br />", "\n", "</p>", "\n").Replace(content)
	return html.UnescapeString(tagRe.ReplaceAllString(content, ""))
}

// extractTags returns a status's hashtags, lower case, each once. Servers
// mark them up differently (Mastodon wraps them in links), so they are read
// from the text, as a reader sees them.
func extractTags(content string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range hashtagRe.FindAllStringSubmatch(plainText(content), -1) {
		t := strings.ToLower(m[1])
		if len(t) > 0 && len(t) <= 100 && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// mergeTags adds stored hashtags to those found in the text, lower case,
// each once.
func mergeTags(tags, stored []string) []string {
	seen := map[string]bool{}
	for _, t := range tags {
		seen[t] = true
	}
	for _, t := range stored {
		t = strings.ToLower(strings.TrimPrefix(t, "#"))
		if t != "" && len(t) <= 100 && !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	return tags
}

// extractMentions finds the accounts a status mentions. Local statuses are
// plain text made HTML, so "@bob" means the local bob and "@bob@host" a
// remote one. Remote statuses link their mentions to the actor's profile
// (class "mention"), and show only "@bob" as text, which is not to be read
// as our bob: for them the links decide, plus any full "@bob@host".
func extractMentions(content string, local bool, localDomain string) mentions {
	var m mentions
	if !local {
		for _, a := range anchorRe.FindAllString(content, -1) {
			class := classRe.FindStringSubmatch(a)
			href := hrefRe.FindStringSubmatch(a)
			if class == nil || href == nil || !strings.Contains(strings.ToLower(class[1]), "mention") ||
				strings.Contains(strings.ToLower(class[1]), "hashtag") {
				continue
			}
			m.uris = append(m.uris, html.UnescapeString(href[1]))
		}
	}
	for _, match := range mentionRe.FindAllStringSubmatch(plainText(content), -1) {
		user, domain := match[1], strings.ToLower(match[2])
		if domain == strings.ToLower(localDomain) {
			domain = ""
		}
		if domain == "" && !local {
			continue
		}
		m.usernames = append(m.usernames, user)
		m.domains = append(m.domains, domain)
	}
	return m
}
