package outbox

import (
	"context"
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/signature"
)

// Mastodon's limits on a profile (Account validations).
const (
	MaxDisplayName = 30
	MaxNote        = 500
	MaxFields      = 4
	MaxFieldLength = 255
)

// Profile is a local account's whole new profile, as a client sends it
// with PATCH /api/v1/accounts/update_credentials (the API fills in what
// the request left out from the stored profile). Note and field values
// are plain text.
type Profile struct {
	DisplayName  string
	Note         string
	Locked       bool
	Bot          bool
	Discoverable bool
	Indexable    bool
	Fields       []starling.Field
	Preferences  starling.Preferences
	// AvatarURL and HeaderURL are the pictures (stored by the caller);
	// empty for the defaults.
	AvatarURL, HeaderURL string
}

// UpdateProfile validates and stores a's new profile and federates it as
// an Update of the actor to every server that has followers of a
// (Mastodon's UpdateDistributionWorker). It returns the stored account.
// An EINVALID error names what is wrong; nothing is stored then.
func (o *Outbox) UpdateProfile(ctx context.Context, a *starling.Account, p Profile) (*starling.Account, error) {
	if err := checkProfile(p); err != nil {
		return nil, err
	}
	next := *a
	next.DisplayName, next.Locked, next.Bot = strings.TrimSpace(p.DisplayName), p.Locked, p.Bot
	next.Discoverable, next.Indexable = p.Discoverable, p.Indexable
	next.AvatarURL, next.HeaderURL = p.AvatarURL, p.HeaderURL
	next.Note = ""
	if strings.TrimSpace(p.Note) != "" {
		// The bio is formatted as a status is (links, mentions, hashtags).
		c, err := o.compose(ctx, p.Note)
		if err != nil {
			return nil, fmt.Errorf("update profile: %w", err)
		}
		next.Note = c.html
	}
	next.Fields = make([]starling.Field, 0, len(p.Fields))
	for _, f := range p.Fields {
		if strings.TrimSpace(f.Name) == "" && strings.TrimSpace(f.Value) == "" {
			continue // a blank row of the client's form
		}
		next.Fields = append(next.Fields, starling.Field{Name: strings.TrimSpace(f.Name), Value: html.EscapeString(strings.TrimSpace(f.Value))})
	}

	act, events, err := o.actorUpdate(ctx, &next)
	if err != nil {
		return nil, err
	}
	if err := o.Store.UpdateLocalProfile(ctx, &next, p.Preferences, act, events...); err != nil {
		return nil, err
	}
	return &next, nil
}

// RotateEd25519Key gives a local account a new Ed25519 key pair under
// the same key id and federates the change as an Update of the actor, as
// a profile change is: a server that has the old key fetches the new one
// when a signature fails to verify, or takes it from the Update. It
// returns the stored account. ErrNotFound when a has no Ed25519 key to
// rotate. The RSA key is not rotated: Mastodon answers a changed main
// key by following again from every account of the server.
func (o *Outbox) RotateEd25519Key(ctx context.Context, a *starling.Account) (*starling.Account, error) {
	pub, priv, err := signature.GenerateEd25519Key()
	if err != nil {
		return nil, err
	}
	next := *a
	next.Ed25519PublicKey, next.Ed25519PrivateKeyPEM = pub, priv
	if next.Ed25519KeyID == "" {
		return nil, fmt.Errorf("rotate key of %s: no ed25519 key: %w", a.URI, starling.ErrNotFound)
	}
	act, events, err := o.actorUpdate(ctx, &next)
	if err != nil {
		return nil, err
	}
	if err := o.Store.RotateEd25519Key(ctx, next.ID, pub, priv, act, events...); err != nil {
		return nil, err
	}
	return &next, nil
}

// actorUpdate builds the Update of next's actor document, to its
// followers, and its events, for the caller's store transaction.
func (o *Outbox) actorUpdate(ctx context.Context, next *starling.Account) (*starling.Activity, []starling.Event, error) {
	now := o.now().UTC()
	update := map[string]any{
		"@context": activitypub.DefaultContext(),
		// Mastodon's form, in milliseconds so that two changes within a
		// second are two activities.
		"id":        next.URI + "#updates/" + strconv.FormatInt(now.UnixMilli(), 10),
		"type":      "Update",
		"actor":     next.URI,
		"to":        []string{activitypub.Public},
		"object":    o.Site.ActorDocument(next),
		"published": now.Format(time.RFC3339),
	}
	act, err := o.activity(ctx, next, update, "Update", next.URI)
	if err != nil {
		return nil, nil, err
	}
	events, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: next.ID, Followers: true}, "", 0)
	if err != nil {
		return nil, nil, err
	}
	return act, events, nil
}

func checkProfile(p Profile) error {
	for _, s := range append([]string{p.DisplayName, p.Note}, fieldTexts(p.Fields)...) {
		if !starling.ValidText(s) {
			return ErrInvalidText
		}
	}
	switch {
	case utf8.RuneCountInString(strings.TrimSpace(p.DisplayName)) > MaxDisplayName:
		return starling.Errorf(starling.EINVALID, "Validation failed: Display name is too long (maximum is %d characters)", MaxDisplayName)
	case countableLength(p.Note) > MaxNote:
		return starling.Errorf(starling.EINVALID, "Validation failed: Note is too long (maximum is %d characters)", MaxNote)
	case len(p.Fields) > MaxFields:
		return starling.Errorf(starling.EINVALID, "Validation failed: Fields is too long (maximum is %d fields)", MaxFields)
	}
	for _, f := range p.Fields {
		if utf8.RuneCountInString(f.Name) > MaxFieldLength || utf8.RuneCountInString(f.Value) > MaxFieldLength {
			return starling.Errorf(starling.EINVALID, "Validation failed: Fields names and values are limited to %d characters", MaxFieldLength)
		}
	}
	switch p.Preferences.Privacy {
	case "", starling.VisibilityPublic, starling.VisibilityUnlisted, starling.VisibilityPrivate, starling.VisibilityDirect:
	default:
		return starling.Errorf(starling.EINVALID, "Validation failed: Privacy %q is not a visibility", p.Preferences.Privacy)
	}
	if l := p.Preferences.Language; l != "" && !validLanguage(l) {
		return starling.Errorf(starling.EINVALID, "Validation failed: Language %q is not an ISO 639 code", l)
	}
	return nil
}

func fieldTexts(fields []starling.Field) []string {
	out := make([]string, 0, 2*len(fields))
	for _, f := range fields {
		out = append(out, f.Name, f.Value)
	}
	return out
}

// validLanguage accepts what Mastodon stores as a language: two or three
// lower-case letters (ISO 639-1 or -3).
func validLanguage(l string) bool {
	if len(l) < 2 || len(l) > 3 {
		return false
	}
	for _, r := range l {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}
