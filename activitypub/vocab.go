// Package activitypub is the ActivityPub vocabulary Starling speaks: the
// JSON shapes of actors, notes and activities (tolerant of the compacted
// forms real servers send), decoding and encoding, and a few pure URL and
// text helpers. It does no I/O and imports no other Starling package; the
// signature package signs and verifies, the federation package fetches,
// resolves and renders Starling's own documents.
package activitypub

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
)

// Media types and well-known IRIs.
const (
	ContentType       = "application/activity+json"
	LDContentType     = `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`
	ActivityStreamsNS = "https://www.w3.org/ns/activitystreams"
	SecurityNS        = "https://w3id.org/security/v1"
	// MultikeyNS and DataIntegrityNS define FEP-521a's Multikey and
	// assertionMethod, as Mastodon and Fedify write them.
	MultikeyNS      = "https://w3id.org/security/multikey/v1"
	DataIntegrityNS = "https://w3id.org/security/data-integrity/v1"
	Public          = "https://www.w3.org/ns/activitystreams#Public"
)

// IsPublic reports whether iri addresses the public collection, in any of
// the three spellings servers use.
func IsPublic(iri string) bool {
	return iri == Public || iri == "as:Public" || iri == "Public"
}

// IsActivityPubMediaType reports whether a Content-Type or one entry of an
// Accept header names an ActivityPub document.
func IsActivityPubMediaType(v string) bool {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return false
	}
	switch mt {
	case "application/activity+json":
		return true
	case "application/ld+json":
		p := params["profile"]
		return p == "" || strings.Contains(p, ActivityStreamsNS)
	}
	return false
}

// WantsActivityPub reports whether an Accept header prefers an ActivityPub
// document to HTML.
func WantsActivityPub(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if IsActivityPubMediaType(strings.TrimSpace(part)) {
			return true
		}
	}
	return false
}

// Ref is a reference to an object: servers send a bare IRI, an embedded
// object with an id, or an array of either. Ref keeps the id and, when the
// object was embedded, its JSON.
type Ref struct {
	ID  string
	Raw json.RawMessage // the embedded object, if one was sent
}

// UnmarshalJSON accepts "iri", {"id": ...}, a Link {"href": ...}, and
// [first, ...].
func (r *Ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &r.ID)
	case b[0] == '[':
		var list []Ref
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		if len(list) > 0 {
			*r = list[0]
		}
		return nil
	case b[0] == '{':
		var obj struct {
			ID   string `json:"id"`
			Href string `json:"href"` // a Link object has no id
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		if obj.ID == "" {
			obj.ID = obj.Href
		}
		r.ID, r.Raw = obj.ID, append(json.RawMessage(nil), b...)
		return nil
	}
	// Not json.UnmarshalTypeError: its Error method panics without a Type.
	return fmt.Errorf("a reference must be an IRI, an object or an array, not %s", ClipForError(string(b)))
}

// IsZero reports whether r refers to nothing. Ref fields are tagged
// omitzero: omitempty never omits a struct, so an unset reference would
// go out as "" (an IRI nobody can dereference) instead of being left out.
func (r Ref) IsZero() bool { return r.ID == "" && len(r.Raw) == 0 }

// MarshalJSON writes the embedded object if there is one, else the IRI.
func (r Ref) MarshalJSON() ([]byte, error) {
	if len(r.Raw) > 0 {
		return r.Raw, nil
	}
	return json.Marshal(r.ID)
}

// IRIs is a list of references that servers may send as a single value.
type IRIs []string

// UnmarshalJSON accepts a single IRI or object, or an array of them.
func (s *IRIs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] != '[' {
		var r Ref
		if err := r.UnmarshalJSON(b); err != nil {
			return err
		}
		*s = IRIs{r.ID}
		return nil
	}
	var refs []Ref
	if err := json.Unmarshal(b, &refs); err != nil {
		return err
	}
	out := make(IRIs, 0, len(refs))
	for _, r := range refs {
		if r.ID != "" {
			out = append(out, r.ID)
		}
	}
	*s = out
	return nil
}

// Contains reports whether iri is in the list.
func (s IRIs) Contains(iri string) bool {
	for _, v := range s {
		if v == iri {
			return true
		}
	}
	return false
}

// HasPublic reports whether the list addresses the public.
func (s IRIs) HasPublic() bool {
	for _, v := range s {
		if IsPublic(v) {
			return true
		}
	}
	return false
}

// Activity is an incoming activity, as much of it as routing needs.
type Activity struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Actor     Ref    `json:"actor,omitzero"`
	Object    Ref    `json:"object,omitzero"`
	Target    Ref    `json:"target,omitzero"`
	To        IRIs   `json:"to,omitempty"`
	Cc        IRIs   `json:"cc,omitempty"`
	Published string `json:"published,omitempty"`
	// Content is the reaction of a Like or EmojiReact (Misskey, Pleroma).
	Content string `json:"content,omitempty"`
}

// Object is a content object (Note and its kin), incoming or outgoing.
type Object struct {
	Context      any    `json:"@context,omitempty"`
	ID           string `json:"id"`
	Type         string `json:"type"`
	AttributedTo Ref    `json:"attributedTo,omitzero"`
	Content      string `json:"content,omitempty"`
	Summary      string `json:"summary,omitempty"`
	Sensitive    bool   `json:"sensitive,omitempty"`
	InReplyTo    Ref    `json:"inReplyTo,omitzero"`
	Published    string `json:"published,omitempty"`
	URL          Ref    `json:"url,omitzero"`
	To           IRIs   `json:"to,omitempty"`
	Cc           IRIs   `json:"cc,omitempty"`
	// Object is set on embedded activities (the Follow inside an Accept).
	Actor  Ref `json:"actor,omitzero"`
	Object Ref `json:"object,omitzero"`

	// What remote statuses carry besides; read by StatusFields.
	Name           string            `json:"name,omitempty"`       // title of an Article, Page, Video, Event
	ContentMap     map[string]string `json:"contentMap,omitempty"` // content by language
	MisskeyContent string            `json:"_misskey_content,omitempty"`
	Source         *Source           `json:"source,omitempty"`
	Tag            List[Tag]         `json:"tag,omitempty"`
	Attachment     List[Attachment]  `json:"attachment,omitempty"`
	Quote          Ref               `json:"quote,omitzero"` // FEP-044f
	QuoteURL       string            `json:"quoteUrl,omitempty"`
	QuoteURI       string            `json:"quoteUri,omitempty"` // Fedibird
	MisskeyQuote   string            `json:"_misskey_quote,omitempty"`
	OneOf          List[PollOption]  `json:"oneOf,omitempty"`
	AnyOf          List[PollOption]  `json:"anyOf,omitempty"`
}

// Actor is an actor document.
type Actor struct {
	Context                   any        `json:"@context,omitempty"`
	ID                        string     `json:"id"`
	Type                      TypeName   `json:"type"`
	PreferredUsername         string     `json:"preferredUsername"`
	Name                      string     `json:"name,omitempty"`
	Summary                   string     `json:"summary,omitempty"`
	URL                       Ref        `json:"url,omitzero"`
	Inbox                     string     `json:"inbox"`
	Outbox                    string     `json:"outbox,omitempty"`
	Followers                 string     `json:"followers,omitempty"`
	Following                 string     `json:"following,omitempty"`
	ManuallyApprovesFollowers Bool       `json:"manuallyApprovesFollowers"`
	Discoverable              Bool       `json:"discoverable"`
	Indexable                 Bool       `json:"indexable"` // FEP-5feb; sent false too, as Mastodon does
	Published                 string     `json:"published,omitempty"`
	Endpoints                 *Endpoints `json:"endpoints,omitempty"`
	PublicKey                 *PublicKey `json:"publicKey,omitempty"`
	// AssertionMethod holds FEP-521a keys (Multikey); entries that are
	// bare IRIs or do not decode are dropped.
	AssertionMethod List[Multikey] `json:"assertionMethod,omitempty"`
	// Attachment holds the profile fields. Entries of other types (links,
	// identity proofs) decode with their own type and are ignored.
	Attachment List[PropertyValue] `json:"attachment,omitempty"`
	// Icon and Image are the avatar and the header.
	Icon  *Image `json:"icon,omitempty"`
	Image *Image `json:"image,omitempty"`
}

// Image is an actor's avatar or header: {"type": "Image", "mediaType",
// "url"}.
type Image struct {
	Type      string `json:"type,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	URL       Ref    `json:"url,omitzero"`
}

// UnmarshalJSON accepts an Image object, a bare IRI, or a list of them
// (the first is kept).
func (i *Image) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &i.URL.ID)
	case b[0] == '[':
		var list []Image
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		if len(list) > 0 {
			*i = list[0]
		}
		return nil
	}
	type plain Image
	return json.Unmarshal(b, (*plain)(i))
}

// PropertyValue is a profile field as Mastodon sends it: an attachment of
// an actor typed schema.org's PropertyValue, whose name is a label (text)
// and whose value is HTML.
type PropertyValue struct {
	Type  string `json:"type"` // "PropertyValue" however it was prefixed
	Name  string `json:"name"`
	Value string `json:"value"`
}

// schemaPrefixes are the spellings of schema.org's namespace a compacted
// document keeps when its @context does not define the term.
var schemaPrefixes = []string{"schema:", "http://schema.org#", "https://schema.org#", "http://schema.org/", "https://schema.org/"}

// isPropertyValue reports whether t names schema.org's PropertyValue, bare
// or prefixed.
func isPropertyValue(t string) bool {
	for _, p := range schemaPrefixes {
		if rest, ok := strings.CutPrefix(t, p); ok {
			return rest == "PropertyValue"
		}
	}
	return bareType(t) == "PropertyValue"
}

// UnmarshalJSON accepts a type that is prefixed (schema:PropertyValue) or
// an array, and a value under schema:value when the sender's context did
// not name it.
func (v *PropertyValue) UnmarshalJSON(b []byte) error {
	var w struct {
		Type        types  `json:"type"`
		Name        string `json:"name"`
		Value       string `json:"value"`
		SchemaValue string `json:"schema:value"`
		IRIValue    string `json:"http://schema.org#value"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*v = PropertyValue{Name: w.Name, Value: w.Value}
	if v.Value == "" {
		v.Value = cmp.Or(w.SchemaValue, w.IRIValue)
	}
	for _, t := range w.Type {
		if isPropertyValue(t) {
			v.Type = "PropertyValue"
			return nil
		}
	}
	if len(w.Type) > 0 {
		v.Type = bareType(w.Type[0])
	}
	return nil
}

// Endpoints holds an actor's shared inbox.
type Endpoints struct {
	SharedInbox string `json:"sharedInbox,omitempty"`
}

// PublicKey is the security vocabulary's key object.
type PublicKey struct {
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	PublicKeyPEM string `json:"publicKeyPem"`
}

// UnmarshalJSON accepts a single key or an array (the first RSA key wins).
func (k *PublicKey) UnmarshalJSON(b []byte) error {
	type plain PublicKey
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var keys []plain
		if err := json.Unmarshal(b, &keys); err != nil {
			return err
		}
		for _, key := range keys {
			if key.PublicKeyPEM != "" {
				*k = PublicKey(key)
				return nil
			}
		}
		return nil
	}
	return json.Unmarshal(b, (*plain)(k))
}

// KeyDocument is a key served at its own id: what a server that
// dereferences an RFC 9421 keyid or a proof's verificationMethod reads.
// Starling serves its actors' Ed25519 keys so
// (federation.Site.Ed25519KeyDocument), as both the security vocabulary's
// key (owner, publicKeyPem) and a Multikey (controller,
// publicKeyMultibase): Fedify reads an HTTP signature's keyid as the one
// and a proof's verificationMethod as the other.
type KeyDocument struct {
	Context            any      `json:"@context"`
	ID                 string   `json:"id"`
	Type               []string `json:"type"`
	Owner              string   `json:"owner"`
	PublicKeyPEM       string   `json:"publicKeyPem"`
	Controller         string   `json:"controller,omitempty"`
	PublicKeyMultibase string   `json:"publicKeyMultibase,omitempty"`
}

// Multikey is a FEP-521a key: an entry of an actor's assertionMethod.
// PublicKeyMultibase is "z" and the base58btc of a multicodec-prefixed key
// (signature.DecodeMultikey).
type Multikey struct {
	ID                 string `json:"id"`
	Type               string `json:"type"`
	Controller         string `json:"controller"`
	PublicKeyMultibase string `json:"publicKeyMultibase"`
}

// Collection is an OrderedCollection, with its items inline.
type Collection struct {
	Context      any    `json:"@context,omitempty"`
	ID           string `json:"id"`
	Type         string `json:"type"`
	TotalItems   int64  `json:"totalItems"`
	OrderedItems []any  `json:"orderedItems,omitempty"`
	First        Ref    `json:"first,omitzero"` // an IRI or an embedded page
}

// DefaultContext is the @context of the documents Starling writes.
func DefaultContext() []any {
	return []any{ActivityStreamsNS, SecurityNS, map[string]any{
		"manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
		"sensitive":                 "as:sensitive",
	}}
}

// Bool is a boolean that servers sometimes send as a string ("true") or
// null; anything but true or "true" is false.
type Bool bool

// UnmarshalJSON accepts true, false, null, "true" and "false".
func (b *Bool) UnmarshalJSON(data []byte) error {
	switch strings.ToLower(strings.Trim(string(bytes.TrimSpace(data)), `"`)) {
	case "true", "1":
		*b = true
	default:
		*b = false
	}
	return nil
}

// TypeName is a type property, which JSON-LD allows to be an array
// (["Person", "vcard:individual"]): the first entry without a prefix once
// "as:" is stripped wins ("as:Service" is a Service).
type TypeName string

// UnmarshalJSON accepts a string or an array of strings.
func (t *TypeName) UnmarshalJSON(data []byte) error {
	var ts types
	if err := ts.UnmarshalJSON(data); err != nil {
		return err
	}
	*t = TypeName(ts.pick(func(s string) bool { return !strings.Contains(s, ":") }))
	return nil
}
