package outbox

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/store"
)

// Accounts finds remote accounts by acct (WebFinger, with the store as its
// cache); *federation.Resolver is one. It returns store.ErrNotFound, or
// another error, when the account cannot be found.
type Accounts interface {
	WebFinger(ctx context.Context, username, host string) (*store.Account, error)
}

// composed is a status's text made ready to store and send.
type composed struct {
	text      string           // the source, normalized
	html      string           // the content
	mentioned []*store.Account // each once, in order of first mention
	tags      []string         // lower case, without '#', each once
	tagNames  map[string]string
}

// compose parses text as Mastodon does (ProcessMentionsService,
// TextFormatter): mentions of accounts that can be found become h-card
// links, the others stay text; hashtags and web links are linked.
func (o *Outbox) compose(ctx context.Context, text string) (*composed, error) {
	c := &composed{text: normalizeText(text), tagNames: map[string]string{}}
	entities := scanText(c.text)
	byAcct := map[string]*store.Account{}
	seen := map[int64]bool{}
	usernames := map[string]int{} // lower username → distinct accounts mentioned with it
	for _, e := range entities {
		switch e.kind {
		case entityMention:
			key := strings.ToLower(e.text) + "@" + e.host
			if _, done := byAcct[key]; done {
				continue
			}
			a, err := o.findAccount(ctx, e.text, e.host)
			if err != nil {
				return nil, err
			}
			byAcct[key] = a
			if a != nil && !seen[a.ID] {
				seen[a.ID] = true
				c.mentioned = append(c.mentioned, a)
				usernames[strings.ToLower(a.Username)]++
			}
		case entityHashtag:
			t := strings.ToLower(e.text)
			if _, done := c.tagNames[t]; !done && len(t) <= 100 {
				c.tagNames[t] = e.text
				c.tags = append(c.tags, t)
			}
		}
	}
	c.html = renderText(c.text, entities, func(e entityRef) string {
		switch e.kind {
		case entityURL:
			return linkHTML(e.text)
		case entityMention:
			a := byAcct[strings.ToLower(e.text)+"@"+e.host]
			if a == nil {
				return "" // Mastodon leaves an unknown mention as text
			}
			shown := a.Username
			if usernames[strings.ToLower(a.Username)] > 1 {
				shown = o.acct(a)
			}
			return mentionHTML(profileURL(a), shown)
		case entityHashtag:
			if len(e.text) > 100 {
				return ""
			}
			return hashtagHTML(o.tagURL(e.text), e.text)
		}
		return ""
	})
	return c, nil
}

// findAccount resolves a mention: a local account by username, else a
// remote one through WebFinger. An account that cannot be found is nil,
// not an error, so that a typo or a server that is down leaves the mention
// as text instead of failing the post (as Mastodon does); only the
// request's own end (context) is an error.
func (o *Outbox) findAccount(ctx context.Context, username, host string) (*store.Account, error) {
	if host == strings.ToLower(o.Site.Host) {
		host = ""
	}
	var a *store.Account
	var err error
	if host == "" || o.Accounts == nil {
		a, err = o.Store.AccountByAcct(ctx, username, host)
	} else {
		a, err = o.Accounts.WebFinger(ctx, username, host)
	}
	switch {
	case err == nil:
		return a, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("find @%s@%s: %w", username, host, ctx.Err())
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	default:
		o.logger().Info("mention not resolved", "username", username, "host", host, "error", err)
		return nil, nil
	}
}

// acct is an account's user@host, the local host included.
func (o *Outbox) acct(a *store.Account) string {
	if a.Local() {
		return a.Username + "@" + o.Site.Host
	}
	return a.Username + "@" + a.Domain
}

// tagURL is the address of a hashtag's page here.
func (o *Outbox) tagURL(tag string) string {
	return o.Site.Base() + "/tags/" + url.PathEscape(tag)
}

// profileURL is where a mention links: the profile page, else the actor.
func profileURL(a *store.Account) string {
	if a.URL != "" {
		return a.URL
	}
	return a.URI
}

// addressing returns a status's to and cc exactly as Mastodon's
// ActivityPub::TagManager writes them: public to Public, cc followers and
// the mentioned; unlisted to followers, cc Public and the mentioned;
// private to followers, cc the mentioned; direct to the mentioned. extra
// (the replied-to author, when the reply reaches them) joins cc.
func addressing(visibility, followers string, mentioned []string, extra string) (to, cc []string) {
	var others []string
	seen := map[string]bool{}
	for _, m := range append(slices.Clone(mentioned), extra) {
		if m != "" && !seen[m] {
			seen[m] = true
			others = append(others, m)
		}
	}
	switch visibility {
	case store.VisibilityPublic:
		return []string{activitypub.Public}, append([]string{followers}, others...)
	case store.VisibilityUnlisted:
		return []string{followers}, append([]string{activitypub.Public}, others...)
	case store.VisibilityPrivate:
		return []string{followers}, others
	default:
		return others, []string{}
	}
}

// noteTags are the Mention and Hashtag tags of a status.
func (o *Outbox) noteTags(c *composed) []activitypub.Tag {
	var out []activitypub.Tag
	for _, a := range c.mentioned {
		out = append(out, activitypub.Tag{Type: "Mention", Href: a.URI, Name: "@" + o.acct(a)})
	}
	for _, t := range c.tags {
		out = append(out, activitypub.Tag{Type: "Hashtag", Href: o.tagURL(t), Name: "#" + c.tagNames[t]})
	}
	return out
}
