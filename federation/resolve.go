package federation

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/sanitize"
	"github.com/starling-social/starling/signature"
)

// MaxDocumentSize bounds every document fetched from or posted by a remote.
const MaxDocumentSize = 1 << 20

// AccountStore is what the resolver needs of the store.
type AccountStore interface {
	AccountByURI(ctx context.Context, uri string) (*starling.Account, error)
	AccountByKeyID(ctx context.Context, keyID string) (*starling.Account, error)
	AccountByAcct(ctx context.Context, username, domain string) (*starling.Account, error)
	UpsertRemoteAccount(ctx context.Context, a *starling.Account) (*starling.Account, error)
}

// Resolver fetches remote actors (by URI, key id or WebFinger address),
// stores them as accounts, and serves them from the store until they are
// MaxAge old. It signs its fetches as the instance actor, so servers in
// secure mode answer. It is safe for concurrent use.
type Resolver struct {
	Store  AccountStore
	Client *http.Client
	Site   Site
	// Scheme is used for WebFinger on remote hosts: "https", or "http" for
	// local federation.
	Scheme string
	// SignAs returns the keys that sign fetches: the instance actor's RSA
	// key and, if it has one, its Ed25519 key (used where the Knocker
	// knows the host verifies it).
	SignAs func(ctx context.Context) (Keys, error)
	MaxAge time.Duration // default 24h
	Now    func() time.Time
	// Knocker, when set, signs fetches with the standard each host accepts
	// and knocks again with the other on a 400 or 401; without it, fetches
	// are signed with draft-cavage.
	Knocker *Knocker
	// Sanitizer cleans what remote actors say about themselves before it
	// is stored. serve sets the one policy the process shares. When it is
	// nil (tests that build a bare Resolver) every stored actor builds a
	// policy of its own: as safe, only slower.
	Sanitizer *sanitize.Policy
	// Software, when set, is told of each host whose actor publishes no
	// Ed25519 key, to guess from its NodeInfo what it verifies.
	Software *SoftwareGuesser

	// refetches limits refreshes of a known remote key (after a signature
	// failed against it) to one per key per KeyRefetchInterval, as
	// Mastodon does: a flood of badly signed requests must not become a
	// flood of fetches to the key's host.
	refetches refetchLimit
}

// KeyRefetchInterval is how often a known remote key may be fetched again
// because a signature did not verify against it.
const KeyRefetchInterval = 5 * time.Minute

// refetchLimit remembers when each key was last refetched. The zero value
// is ready; it forgets keys after KeyRefetchInterval (or the interval
// allowEvery is given), and holds at most maxRefetchKeys.
type refetchLimit struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const maxRefetchKeys = 10_000

func (l *refetchLimit) allow(key string, now time.Time) bool {
	return l.allowEvery(key, now, KeyRefetchInterval)
}

func (l *refetchLimit) allowEvery(key string, now time.Time, interval time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[key]; ok && now.Sub(t) < interval {
		return false
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if len(l.last) >= maxRefetchKeys {
		for k, t := range l.last {
			if now.Sub(t) >= interval {
				delete(l.last, k)
			}
		}
		if len(l.last) >= maxRefetchKeys {
			clear(l.last) // under attack from many keys: forget rather than grow
		}
	}
	l.last[key] = now
	return true
}

func (r *Resolver) sanitizer() *sanitize.Policy {
	if r.Sanitizer != nil {
		return r.Sanitizer
	}
	return sanitize.New()
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Get fetches an ActivityPub document with a signed GET.
func (r *Resolver) Get(ctx context.Context, rawURL string) ([]byte, error) {
	return r.get(ctx, rawURL, activitypub.ContentType+", "+activitypub.LDContentType, true)
}

func (r *Resolver) get(ctx context.Context, rawURL, accept string, sign bool) ([]byte, error) {
	build := func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("User-Agent", "Starling (+"+r.Site.Base()+"/)")
		return req, nil
	}
	var resp *http.Response
	switch {
	case sign && r.SignAs != nil:
		keys, err := r.SignAs(ctx)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
		}
		if r.Knocker != nil {
			resp, err = r.Knocker.Do(ctx, r.Client, build, keys, nil)
			if err != nil {
				return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
			}
			break
		}
		req, err := build()
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
		}
		if err := signature.SignRequest(req, keys.KeyID, keys.Key, nil, r.now()); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
		}
		if resp, err = r.Client.Do(req); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
		}
	default:
		req, err := build()
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
		}
		if resp, err = r.Client.Do(req); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
		}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &FetchError{URL: rawURL, Status: resp.StatusCode}
	}
	if len(body) > MaxDocumentSize {
		return nil, fmt.Errorf("fetch %s: document larger than %d bytes", rawURL, MaxDocumentSize)
	}
	if err := activitypub.CheckDepth(body, activitypub.MaxDepth); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	return body, nil
}

// FetchError is a non-200 answer to a fetch.
type FetchError struct {
	URL    string
	Status int
}

func (e *FetchError) Error() string { return fmt.Sprintf("fetch %s: status %d", e.URL, e.Status) }

// Actor returns the account of the actor uri, from the store when it is
// fresh enough (or local), else fetched. refresh forces a fetch of a remote actor.
func (r *Resolver) Actor(ctx context.Context, uri string, refresh bool) (*starling.Account, error) {
	a, err := r.Store.AccountByURI(ctx, uri)
	switch {
	case err == nil && (a.Local() || (!refresh && r.fresh(a))):
		return a, nil
	case err != nil && !errors.Is(err, starling.ErrNotFound):
		return nil, fmt.Errorf("resolve actor: %w", err)
	}
	if activitypub.SameHost(uri, r.Site.Base()) {
		return nil, fmt.Errorf("resolve actor %s: %w", uri, starling.ErrNotFound)
	}
	return r.fetchActor(ctx, uri)
}

func (r *Resolver) fresh(a *starling.Account) bool {
	maxAge := r.MaxAge
	if maxAge <= 0 {
		maxAge = 24 * time.Hour
	}
	return r.now().Sub(a.FetchedAt) < maxAge
}

func (r *Resolver) fetchActor(ctx context.Context, uri string) (*starling.Account, error) {
	body, err := r.Get(ctx, uri)
	if err != nil {
		return nil, err
	}
	var doc activitypub.Actor
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode actor %s: %w", uri, err)
	}
	return r.storeActor(ctx, uri, &doc)
}

// UpdateActor stores the actor document raw, embedded in an Update that
// actorURI sent about itself (the inbox checked that the delivery was signed
// by a key of actorURI's host). A document about anyone else is refused.
func (r *Resolver) UpdateActor(ctx context.Context, actorURI string, raw []byte) (*starling.Account, error) {
	var doc activitypub.Actor
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode actor %s: %w", actorURI, err)
	}
	if doc.ID != actorURI {
		return nil, fmt.Errorf("update by %s of another actor %q", actorURI, doc.ID)
	}
	if activitypub.SameHost(actorURI, r.Site.Base()) {
		return nil, fmt.Errorf("update of local actor %s: %w", actorURI, starling.ErrNotFound)
	}
	return r.storeActor(ctx, actorURI, &doc)
}

// storeActor checks a fetched actor document against where it came from and
// stores it.
func (r *Resolver) storeActor(ctx context.Context, fetchedFrom string, doc *activitypub.Actor) (*starling.Account, error) {
	// A document may only speak for its own host: an id on another host,
	// or a key owned elsewhere, would let one server impersonate another.
	if doc.ID == "" || !activitypub.SameHost(doc.ID, fetchedFrom) {
		return nil, fmt.Errorf("actor document from %s has id %q on another host", fetchedFrom, doc.ID)
	}
	if doc.Inbox == "" || doc.PreferredUsername == "" {
		return nil, fmt.Errorf("actor %s: no inbox or preferredUsername", doc.ID)
	}
	if doc.PublicKey == nil || doc.PublicKey.PublicKeyPEM == "" {
		return nil, fmt.Errorf("actor %s: no public key", doc.ID)
	}
	if doc.PublicKey.Owner != "" && doc.PublicKey.Owner != doc.ID {
		return nil, fmt.Errorf("actor %s: key owned by %s", doc.ID, doc.PublicKey.Owner)
	}
	// What identifies the actor must be stored as sent, or not at all: a
	// cleaned id or username would name someone else.
	for _, v := range []string{doc.ID, doc.PreferredUsername, doc.Inbox, doc.PublicKey.ID} {
		if !sanitize.Valid(v) {
			return nil, fmt.Errorf("actor %s: NUL or invalid UTF-8 in its identifiers", activitypub.ClipForError(doc.ID))
		}
	}
	if !plainUsername(doc.PreferredUsername) {
		return nil, fmt.Errorf("actor %s: preferredUsername %q is not a name", activitypub.ClipForError(doc.ID), activitypub.ClipForError(doc.PreferredUsername))
	}
	keyID, keyPEM := doc.PublicKey.ID, doc.PublicKey.PublicKeyPEM
	if _, err := signature.ParsePublicKey(keyPEM); err != nil {
		// Keep the actor, as Mastodon does, but not a key nothing can
		// verify with: its signatures will fail until it publishes a good
		// one (KeyLookup refetches on failure).
		keyID, keyPEM = "", ""
	}
	host, _ := activitypub.HostOf(doc.ID)
	// Clients render the note as HTML and the display name as text, both
	// trusted: clean them as Mastodon does. (Profile fields are not kept:
	// starling.Account has nowhere to put them.)
	p := r.sanitizer()
	a := &starling.Account{
		Username:     doc.PreferredUsername,
		Domain:       host,
		DisplayName:  p.Text(doc.Name),
		Note:         p.HTML(doc.Summary),
		URI:          doc.ID,
		URL:          PageURL(doc.URL.ID, doc.ID),
		InboxURL:     doc.Inbox,
		OutboxURL:    sanitize.Clean(doc.Outbox),
		FollowersURL: sanitize.Clean(doc.Followers),
		FollowingURL: sanitize.Clean(doc.Following),
		KeyID:        keyID,
		PublicKeyPEM: sanitize.Clean(keyPEM),
		Locked:       bool(doc.ManuallyApprovesFollowers),
		Bot:          doc.Type == "Service" || doc.Type == "Application",
		Fields:       profileFields(p, doc.Attachment),
		Discoverable: bool(doc.Discoverable),
		Indexable:    bool(doc.Indexable),
		AvatarURL:    pictureURL(doc.Icon),
		HeaderURL:    pictureURL(doc.Image),
	}
	a.Ed25519KeyID, a.Ed25519PublicKey = ed25519Key(doc)
	if doc.Endpoints != nil && activitypub.SameHost(doc.Endpoints.SharedInbox, doc.ID) {
		a.SharedInboxURL = sanitize.Clean(doc.Endpoints.SharedInbox)
	}
	got, err := r.Store.UpsertRemoteAccount(ctx, a)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(a.InboxURL); err == nil && u.Host != "" && r.Knocker != nil {
		if a.Ed25519PublicKey != "" {
			// A server that publishes Ed25519 keys probably verifies them:
			// the first delivery to its inbox tries RFC 9421 with Ed25519
			// (unless more is known of the host), and knocks down if refused.
			r.Knocker.Guess(ctx, u.Host, signature.StandardRFC9421Ed25519)
		} else if r.Software != nil {
			r.Software.Notice(ctx, u)
		}
	}
	return got, nil
}

// plainUsername reports whether a remote username can be stored and shown
// as it is: no markup characters (clients show username and acct as text,
// but an acct also ends up in mentions), no '@' (which would make
// user@domain name another account), no spaces or control characters. It
// is looser than Mastodon's rule, which would refuse the instance actor
// of a Starling on a port (preferredUsername "host:port").
func plainUsername(s string) bool {
	if s == "" || strings.ContainsAny(s, `<>"'&@`) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// PageURL is the web page of a remote object (an actor's profile, a
// status), which clients link to: its url when that is an http(s) URL on
// the host of its id, as Mastodon requires, else its id. A javascript: or
// data: url would run in the client's origin; one on another host would
// let an object pass for a page of someone else's.
func PageURL(url, id string) string {
	if activitypub.IsHTTPURL(url) && activitypub.SameHost(url, id) && sanitize.Valid(url) {
		return url
	}
	return id
}

// Bounds on what a remote profile may store: the defaults Pleroma and
// Akkoma use for remote accounts (max_remote_account_fields,
// account_field_name_length, account_field_value_length). More fields, or
// longer ones, are cut off rather than refusing the actor: a profile is
// no reason to stop federating with someone.
const (
	MaxProfileFields   = 20
	MaxFieldNameBytes  = 512
	MaxFieldValueBytes = 2048
)

// profileFields returns the cleaned profile fields among an actor's
// attachments: the PropertyValue entries, in order, with the name as text
// and the value as HTML. Each is cut to its bound before it is cleaned, so
// that a tag cut in two is the sanitiser's to drop, never stored half
// open (an element cut off from its end tag stays unclosed, which clients,
// parsing the value as a fragment, close). Entries left with neither name
// nor value are dropped.
func profileFields(p *sanitize.Policy, attachments []activitypub.PropertyValue) []starling.Field {
	fields := []starling.Field{}
	for _, pv := range attachments {
		if len(fields) == MaxProfileFields {
			break
		}
		if pv.Type != "PropertyValue" {
			continue
		}
		f := starling.Field{
			Name:  p.Text(clip(pv.Name, MaxFieldNameBytes)),
			Value: p.HTML(clip(pv.Value, MaxFieldValueBytes)),
		}
		if f.Name != "" || f.Value != "" {
			fields = append(fields, f)
		}
	}
	return fields
}

// clip cuts s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ed25519Key returns the first FEP-521a Ed25519 Multikey of an actor's
// assertionMethod that the actor controls, with an id on its host: its id
// and publicKeyMultibase, or "" and "".
func ed25519Key(doc *activitypub.Actor) (keyID, multibase string) {
	for _, k := range doc.AssertionMethod {
		if k.Type != "Multikey" && k.Type != "sec:Multikey" {
			continue
		}
		if k.ID == "" || !sanitize.Valid(k.ID) || !activitypub.SameHost(k.ID, doc.ID) || (k.Controller != "" && k.Controller != doc.ID) {
			continue
		}
		if _, err := signature.DecodeMultikey(k.PublicKeyMultibase); err != nil {
			continue
		}
		return k.ID, k.PublicKeyMultibase
	}
	return "", ""
}

// KeyLookup finds the public key keyID for signature verification: from the
// store, or by fetching the key's actor. It has the KeyLookup signature.
func (r *Resolver) KeyLookup(ctx context.Context, keyID string, refresh bool) (crypto.PublicKey, string, error) {
	if acct, ok := strings.CutPrefix(keyID, "acct:"); ok {
		return r.acctKey(ctx, acct, refresh)
	}
	a, err := r.Store.AccountByKeyID(ctx, keyID)
	if err != nil && !errors.Is(err, starling.ErrNotFound) {
		return nil, "", fmt.Errorf("look up key %s: %w", keyID, err)
	}
	if err == nil && refresh && !a.Local() && !r.refetches.allow(keyID, r.now()) {
		refresh = false // refetched recently: the stored key stands
	}
	if err != nil || (refresh && !a.Local()) {
		// The key id is usually the actor's id with a fragment; some
		// servers use a separate key document whose owner is the actor.
		actorURI := keyID
		if i := strings.IndexByte(actorURI, '#'); i >= 0 {
			actorURI = actorURI[:i]
		}
		if a, err = r.actorForKey(ctx, actorURI, keyID); err != nil {
			return nil, "", err
		}
	}
	if a.Ed25519KeyID != "" && a.Ed25519KeyID == keyID {
		key, err := signature.DecodeMultikey(a.Ed25519PublicKey)
		if err != nil {
			return nil, "", fmt.Errorf("look up key %s: %w", keyID, err)
		}
		return key, a.URI, nil
	}
	if a.KeyID != keyID {
		return nil, "", fmt.Errorf("look up key %s: actor %s has key %s", keyID, a.URI, a.KeyID)
	}
	key, err := signature.ParsePublicKey(a.PublicKeyPEM)
	if err != nil {
		return nil, "", fmt.Errorf("look up key %s: %w", keyID, err)
	}
	return key, a.URI, nil
}

// Ed25519Key finds the Ed25519 key keyID for an Object Integrity Proof,
// as KeyLookup finds keys, and the actor that controls it. It has the
// signature.Ed25519KeyLookup signature.
func (r *Resolver) Ed25519Key(ctx context.Context, keyID string) (ed25519.PublicKey, string, error) {
	key, owner, err := r.KeyLookup(ctx, keyID, false)
	if err != nil {
		return nil, "", err
	}
	ed, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, "", fmt.Errorf("look up key %s: a %T, not an Ed25519 key", keyID, key)
	}
	return ed, owner, nil
}

// acctKey resolves a keyId of the form acct:user@host, which Mastodon
// accepts (and old Mastodon sent): the key is the main key of the account
// WebFinger names.
func (r *Resolver) acctKey(ctx context.Context, acct string, refresh bool) (crypto.PublicKey, string, error) {
	user, host, ok := strings.Cut(acct, "@")
	if !ok || user == "" || host == "" {
		return nil, "", fmt.Errorf("look up key acct:%s: not user@host", acct)
	}
	a, err := r.WebFinger(ctx, user, host)
	if err == nil && refresh && !a.Local() && r.refetches.allow("acct:"+acct, r.now()) {
		a, err = r.Actor(ctx, a.URI, true)
	}
	if err != nil {
		return nil, "", fmt.Errorf("look up key acct:%s: %w", acct, err)
	}
	key, err := signature.ParsePublicKey(a.PublicKeyPEM)
	if err != nil {
		return nil, "", fmt.Errorf("look up key acct:%s: %w", acct, err)
	}
	return key, a.URI, nil
}

// actorForKey fetches docURI, the key id without its fragment, and finds
// the actor whose key keyID is, by Mastodon's rule: a complete actor at
// docURI is the owner; anything else there (a stub of the actor, such as
// GoToSocial serves at a key id like /users/gary/main-key, or a bare key
// object) names the actor by its id, or the key's owner or controller,
// which is fetched in turn. The caller checks that the actor lists keyID.
func (r *Resolver) actorForKey(ctx context.Context, docURI, keyID string) (*starling.Account, error) {
	if activitypub.SameHost(docURI, r.Site.Base()) {
		return nil, fmt.Errorf("look up key %s: %w", keyID, starling.ErrNotFound)
	}
	body, err := r.Get(ctx, docURI)
	if err != nil {
		return nil, fmt.Errorf("look up key %s: %w", keyID, err)
	}
	var doc struct {
		activitypub.Actor
		Owner      string `json:"owner"`
		Controller string `json:"controller"` // FEP-521a keys
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("look up key %s: decode %s: %w", keyID, docURI, err)
	}
	if doc.ID == docURI && doc.Inbox != "" && doc.PublicKey != nil {
		return r.storeActor(ctx, docURI, &doc.Actor) // the actor itself
	}
	owner := doc.ID // a stub of the actor
	if doc.PublicKey == nil {
		owner = cmp.Or(doc.Owner, doc.Controller) // a bare key
	} else if doc.PublicKey.ID != keyID {
		return nil, fmt.Errorf("look up key %s: %s describes key %q", keyID, docURI, doc.PublicKey.ID)
	}
	switch {
	case owner == "":
		return nil, fmt.Errorf("look up key %s: %s names no actor", keyID, docURI)
	case owner == docURI:
		// Fetching it again would bring the same incomplete document.
		return nil, fmt.Errorf("look up key %s: %s is an incomplete actor", keyID, docURI)
	case !activitypub.SameHost(owner, docURI):
		return nil, fmt.Errorf("look up key %s: owner %s is on another host", keyID, owner)
	}
	return r.fetchActor(ctx, owner)
}

// WebFinger resolves user@host to an account, using the stored account
// when it is fresh.
func (r *Resolver) WebFinger(ctx context.Context, username, host string) (*starling.Account, error) {
	host = strings.ToLower(host)
	if host == strings.ToLower(r.Site.Host) {
		return r.Store.AccountByAcct(ctx, username, "")
	}
	if a, err := r.Store.AccountByAcct(ctx, username, host); err == nil && r.fresh(a) {
		return a, nil
	}
	resource := "acct:" + username + "@" + host
	wf := r.Scheme + "://" + host + "/.well-known/webfinger?resource=" + url.QueryEscape(resource)
	body, err := r.get(ctx, wf, "application/jrd+json, application/json", false)
	if err != nil {
		return nil, fmt.Errorf("webfinger %s: %w", resource, err)
	}
	href, err := WebFingerActor(body)
	if err != nil {
		return nil, fmt.Errorf("webfinger %s: %w", resource, err)
	}
	return r.Actor(ctx, href, true)
}

// WebFingerActor returns the ActivityPub actor link of a WebFinger (JRD)
// document: the "self" link of an ActivityPub media type.
func WebFingerActor(body []byte) (string, error) {
	var jrd struct {
		Subject string `json:"subject"`
		Links   []struct {
			Rel  string `json:"rel"`
			Type string `json:"type"`
			Href string `json:"href"`
		} `json:"links"`
	}
	if err := json.Unmarshal(body, &jrd); err != nil {
		return "", fmt.Errorf("decode: %w", err)
	}
	for _, l := range jrd.Links {
		if l.Rel == "self" && activitypub.IsActivityPubMediaType(l.Type) && l.Href != "" {
			return l.Href, nil
		}
	}
	return "", errors.New("no ActivityPub actor link")
}

// pictureURL is a remote actor's icon or image URL, if it is an http(s)
// one; Starling shows it from where it is.
func pictureURL(img *activitypub.Image) string {
	if img == nil || !activitypub.IsHTTPURL(img.URL.ID) || len(img.URL.ID) > 2048 {
		return ""
	}
	return sanitize.Clean(img.URL.ID)
}
