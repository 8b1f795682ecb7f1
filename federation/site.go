package federation

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/signature"
)

// Site is this server's public origin and the layout of its URLs.
type Site struct {
	Scheme string // "https", or "http" for local federation
	Host   string // public host, with port if not the default
	// MediaBase is where media files are served from: an object store's
	// public URL (or its CDN), without a trailing slash; empty means this
	// server, at /system.
	MediaBase string
}

// Base returns scheme://host.
func (s Site) Base() string { return s.Scheme + "://" + s.Host }

// ActorURI is a local account's ActivityPub id.
func (s Site) ActorURI(username string) string { return s.Base() + "/users/" + username }

// KeyID is the id of a local account's public key.
func (s Site) KeyID(username string) string { return s.ActorURI(username) + "#main-key" }

// Ed25519KeyID is the id of a local actor's Ed25519 key (FEP-521a): a
// document of its own (Ed25519KeyDocument), not a fragment of the actor
// as Mastodon names its key. Fedify looks an RFC 9421 keyid up as a
// CryptographicKey, either among the actor's publicKey entries when the id
// is a fragment of the actor, or as the document the id names
// (fetchKeyDetailed in @fedify/fedify's sig/key.ts); it never reads
// assertionMethod for HTTP signatures. publicKey stays the RSA key alone:
// servers that read it as one object (Pleroma's get_in(data,
// ["publicKey", "publicKeyPem"]) and its kin) fail on an array. So the
// key has its own document, which Fedify, Mastodon's rule for key ids
// (the key's owner) and Starling's KeyLookup all read.
func Ed25519KeyID(actorURI string) string { return actorURI + Ed25519KeyPath }

// Ed25519KeyPath is the Ed25519 key's path under its actor's.
const Ed25519KeyPath = "/ed25519-key"

// Ed25519KeyDocument renders a local account's Ed25519 key as a key
// document of its own: a CryptographicKey (owner, PKIX PEM), which is how
// Fedify reads an HTTP signature's keyid, and a Multikey (controller,
// publicKeyMultibase), which is how it reads the verificationMethod of
// the proofs on Starling's activities. ErrNotFound when the account has
// no Ed25519 key.
func (s Site) Ed25519KeyDocument(a *starling.Account) (*activitypub.KeyDocument, error) {
	if a.Ed25519KeyID == "" || a.Ed25519PublicKey == "" {
		return nil, fmt.Errorf("ed25519 key of %s: %w", a.URI, starling.ErrNotFound)
	}
	pub, err := signature.DecodeMultikey(a.Ed25519PublicKey)
	if err != nil {
		return nil, fmt.Errorf("ed25519 key of %s: %w", a.URI, err)
	}
	pemText, err := signature.PublicKeyPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("ed25519 key of %s: %w", a.URI, err)
	}
	return &activitypub.KeyDocument{Context: []any{activitypub.SecurityNS, activitypub.MultikeyNS},
		ID: a.Ed25519KeyID, Type: []string{"CryptographicKey", "Multikey"},
		Owner: a.URI, PublicKeyPEM: pemText, Controller: a.URI, PublicKeyMultibase: a.Ed25519PublicKey}, nil
}

// StatusURI is a local status's ActivityPub id.
func (s Site) StatusURI(username string, id int64) string {
	return s.ActorURI(username) + "/statuses/" + strconv.FormatInt(id, 10)
}

// StatusURL is a local status's web page.
func (s Site) StatusURL(username string, id int64) string {
	return s.Base() + "/@" + username + "/" + strconv.FormatInt(id, 10)
}

// ActivityURI names an activity that has no object page of its own.
func (s Site) ActivityURI(id int64) string {
	return s.Base() + "/activities/" + strconv.FormatInt(id, 10)
}

// MediaURL is where the media file key is served.
func (s Site) MediaURL(key string) string {
	if s.MediaBase != "" {
		return s.MediaBase + "/" + key
	}
	return s.Base() + "/system/" + key
}

// SharedInbox is the server-wide inbox.
func (s Site) SharedInbox() string { return s.Base() + "/inbox" }

// InstanceActorURI is the server's own actor, which signs fetches.
func (s Site) InstanceActorURI() string { return s.Base() + "/actor" }

// InstanceActorUsername is the instance actor's reserved username in the
// store; the dot keeps it out of reach of account creation, which allows
// [a-z0-9_]. It is not the name the actor goes by: see WebFingerUsername.
const InstanceActorUsername = "instance.actor"

// WebFingerUsername is the name a local account goes by, in its actor's
// preferredUsername and its WebFinger subject: its username, or for the
// instance actor the host (with its port, if any), as Mastodon names it
// (acct:HOST@HOST). Both must agree: GoToSocial answers a signed fetch
// only after WebFingering the signer's preferredUsername@host and
// finding that subject.
func (s Site) WebFingerUsername(a *starling.Account) string {
	if a.Username == InstanceActorUsername {
		return s.Host
	}
	return a.Username
}

// WebFingerSubject is a local account's WebFinger subject.
func (s Site) WebFingerSubject(a *starling.Account) string {
	return "acct:" + s.WebFingerUsername(a) + "@" + s.Host
}

// NewLocalAccount fills the URLs of a new local account on this site.
func (s Site) NewLocalAccount(username, publicKeyPEM, privateKeyPEM string) *starling.Account {
	actor := s.ActorURI(username)
	a := &starling.Account{
		Username:       username,
		URI:            actor,
		URL:            s.Base() + "/@" + username,
		InboxURL:       actor + "/inbox",
		SharedInboxURL: s.SharedInbox(),
		OutboxURL:      actor + "/outbox",
		FollowersURL:   actor + "/followers",
		FollowingURL:   actor + "/following",
		KeyID:          s.KeyID(username),
		PublicKeyPEM:   publicKeyPEM,
		PrivateKeyPEM:  privateKeyPEM,
		Discoverable:   true, // as Starling has always shown its accounts
	}
	if username == InstanceActorUsername {
		a.URI = s.InstanceActorURI()
		a.URL = s.Base() + "/about"
		a.InboxURL = a.URI + "/inbox"
		a.OutboxURL = a.URI + "/outbox"
		a.FollowersURL, a.FollowingURL = "", ""
		a.KeyID = a.URI + "#main-key"
		a.Bot = true
		a.Locked = true
	}
	return a
}

// ActorDocument renders a local account as an actor.
func (s Site) ActorDocument(a *starling.Account) *activitypub.Actor {
	typ := "Person"
	if a.Bot {
		typ = "Application"
	}
	if a.Username == InstanceActorUsername {
		typ = "Application"
	}
	name := a.DisplayName
	var fields activitypub.List[activitypub.PropertyValue]
	for _, f := range a.Fields {
		fields = append(fields, activitypub.PropertyValue{Type: "PropertyValue", Name: f.Name, Value: f.Value})
	}
	ctx := actorContext()
	var keys activitypub.List[activitypub.Multikey]
	if a.Ed25519KeyID != "" && a.Ed25519PublicKey != "" {
		// FEP-521a: the Ed25519 key, with the contexts that define it,
		// after the security vocabulary.
		ctx = slices.Insert(ctx, 2, any(activitypub.DataIntegrityNS), any(activitypub.MultikeyNS))
		keys = append(keys, activitypub.Multikey{ID: a.Ed25519KeyID, Type: "Multikey", Controller: a.URI, PublicKeyMultibase: a.Ed25519PublicKey})
	}
	return &activitypub.Actor{
		Context:                   ctx,
		ID:                        a.URI,
		Type:                      activitypub.TypeName(typ),
		PreferredUsername:         s.WebFingerUsername(a),
		Name:                      name,
		Summary:                   a.Note,
		URL:                       activitypub.Ref{ID: a.URL},
		Inbox:                     a.InboxURL,
		Outbox:                    a.OutboxURL,
		Followers:                 a.FollowersURL,
		Following:                 a.FollowingURL,
		ManuallyApprovesFollowers: activitypub.Bool(a.Locked),
		Discoverable:              activitypub.Bool(a.Discoverable),
		Indexable:                 activitypub.Bool(a.Indexable),
		Published:                 a.CreatedAt.UTC().Format(time.RFC3339),
		Endpoints:                 &activitypub.Endpoints{SharedInbox: s.SharedInbox()},
		PublicKey:                 &activitypub.PublicKey{ID: a.KeyID, Owner: a.URI, PublicKeyPEM: a.PublicKeyPEM},
		AssertionMethod:           keys,
		Attachment:                fields,
		Icon:                      imageOf(a.AvatarURL),
		Image:                     imageOf(a.HeaderURL),
	}
}

// imageOf is a profile picture as Mastodon sends it, or nil for none.
func imageOf(u string) *activitypub.Image {
	if u == "" {
		return nil
	}
	mt := "image/jpeg"
	if strings.HasSuffix(u, ".png") {
		mt = "image/png"
	}
	return &activitypub.Image{Type: "Image", MediaType: mt, URL: activitypub.Ref{ID: u}}
}

// actorContext is the @context of actor documents: DefaultContext and the
// schema.org terms of profile fields, as Mastodon writes them. A receiver
// that expands JSON-LD (to check a Linked Data signature, say) would
// otherwise drop "value" as an undefined term and read empty fields.
func actorContext() []any {
	terms := map[string]any{
		"schema":        "http://schema.org#",
		"PropertyValue": "schema:PropertyValue",
		"value":         "schema:value",
	}
	ctx := activitypub.DefaultContext()
	for i, c := range ctx {
		if m, ok := c.(map[string]any); ok {
			maps.Copy(terms, m)
			ctx[i] = terms
		}
	}
	return ctx
}

// OutboxCollection renders a local account's outbox: its size, without
// items (Starling serves no outbox pages).
func (s Site) OutboxCollection(a *starling.Account, total int64) *activitypub.Collection {
	return &activitypub.Collection{Context: activitypub.ActivityStreamsNS, ID: a.OutboxURL, Type: "OrderedCollection", TotalItems: total}
}

// FollowCollection renders a local account's followers (or, when
// followers is false, the accounts it follows) with items, actor ids,
// inline.
func (s Site) FollowCollection(a *starling.Account, followers bool, total int64, items []string) *activitypub.Collection {
	c := &activitypub.Collection{Context: activitypub.ActivityStreamsNS, ID: a.FollowersURL, Type: "OrderedCollection", TotalItems: total}
	if !followers {
		c.ID = a.FollowingURL
	}
	for _, u := range items {
		c.OrderedItems = append(c.OrderedItems, u)
	}
	return c
}

// Addressing returns the to and cc of a status of the given visibility, as
// Mastodon addresses them.
func Addressing(visibility, followers string) (to, cc []string) {
	switch visibility {
	case starling.VisibilityPublic:
		return []string{activitypub.Public}, []string{followers}
	case starling.VisibilityUnlisted:
		return []string{followers}, []string{activitypub.Public}
	case starling.VisibilityPrivate:
		return []string{followers}, nil
	default:
		return []string{}, nil
	}
}

// VisibilityOf infers a remote status's visibility from its addressing.
func VisibilityOf(to, cc activitypub.IRIs, followers string) string {
	switch {
	case to.HasPublic():
		return starling.VisibilityPublic
	case cc.HasPublic():
		return starling.VisibilityUnlisted
	case followers != "" && (to.Contains(followers) || cc.Contains(followers)):
		return starling.VisibilityPrivate
	default:
		return starling.VisibilityDirect
	}
}

// Note renders a local status as a Note; author is its account.
func (s Site) Note(st *starling.Status, author *starling.Account) *activitypub.Object {
	to, cc := Addressing(st.Visibility, author.FollowersURL)
	n := &activitypub.Object{
		ID:           st.URI,
		Type:         "Note",
		AttributedTo: activitypub.Ref{ID: author.URI},
		Content:      st.Content,
		Summary:      st.SpoilerText,
		Sensitive:    st.Sensitive,
		Published:    st.CreatedAt.UTC().Format(time.RFC3339),
		URL:          activitypub.Ref{ID: st.URL},
		To:           to,
		Cc:           cc,
	}
	if st.InReplyToURI != "" {
		n.InReplyTo = activitypub.Ref{ID: st.InReplyToURI}
	}
	for _, m := range st.Attachments {
		// As Mastodon sends them (ActivityPub::NoteSerializer's MediaAttachmentSerializer).
		a := activitypub.Attachment{Type: "Document", MediaType: m.MIME, URL: activitypub.Ref{ID: m.URL},
			Name: m.Description, Blurhash: m.Blurhash, Width: m.Width, Height: m.Height}
		if m.FocusX != 0 || m.FocusY != 0 {
			a.FocalPoint = []float64{m.FocusX, m.FocusY}
		}
		n.Attachment = append(n.Attachment, a)
	}
	return n
}
