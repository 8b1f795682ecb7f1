package starling

import "time"

// Account is a local or remote actor.
type Account struct {
	ID             int64
	Username       string
	Domain         string // empty for local accounts
	DisplayName    string
	Note           string
	URI            string
	URL            string
	InboxURL       string
	SharedInboxURL string
	OutboxURL      string
	FollowersURL   string
	FollowingURL   string
	KeyID          string
	PublicKeyPEM   string
	PrivateKeyPEM  string // local accounts only; stored on create, never read back with the account (see the store's SigningKey)
	// Ed25519KeyID and Ed25519PublicKey (a FEP-521a publicKeyMultibase)
	// are the actor's Ed25519 key, if it has one; Ed25519PrivateKeyPEM
	// is, like PrivateKeyPEM, stored on create and never read back.
	Ed25519KeyID         string
	Ed25519PublicKey     string
	Ed25519PrivateKeyPEM string
	Locked               bool
	Bot                  bool
	// Discoverable: the account may be featured in directories and
	// suggestions; Indexable: its public posts may be found by full-text
	// search (Mastodon's and FEP-5feb's flags, both federated).
	Discoverable bool
	Indexable    bool
	// AvatarURL and HeaderURL are the profile pictures: a local file's
	// URL, or a remote actor's icon and image; empty for the defaults.
	AvatarURL, HeaderURL string
	Fields               []Field // profile fields, in order; never nil once scanned
	CreatedAt            time.Time
	FetchedAt            time.Time // zero for local accounts
}

// SigningKeys are what a local account signs with: its RSA key and, when
// it has one, its Ed25519 key; the private keys as PEM.
type SigningKeys struct {
	KeyID, PEM               string
	Ed25519KeyID, Ed25519PEM string // empty when the account has no Ed25519 key
}

// Preferences are a local user's posting defaults, set as Mastodon's
// source[privacy], source[sensitive] and source[language] and read back
// from /api/v1/preferences; a status posted without a visibility gets
// Privacy.
type Preferences struct {
	Privacy   string `json:"privacy,omitempty"` // a visibility; empty means public
	Sensitive bool   `json:"sensitive,omitempty"`
	Language  string `json:"language,omitempty"` // ISO 639-1, or empty
}

// Field is a profile field: a label and a value, as Mastodon shows them
// under an account's bio. A remote account's are stored cleaned: Name is
// plain text and Value is HTML.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Local reports whether the account lives on this server.
func (a *Account) Local() bool { return a.Domain == "" }

// Acct is the Mastodon acct: username for local accounts, user@domain for remote.
func (a *Account) Acct() string {
	if a.Local() {
		return a.Username
	}
	return a.Username + "@" + a.Domain
}

// DeliveryInbox is where activities for this account go: its server's
// shared inbox when it has one, so that followers on one server collapse
// onto one delivery.
func (a *Account) DeliveryInbox() string {
	if a.SharedInboxURL != "" {
		return a.SharedInboxURL
	}
	return a.InboxURL
}

// AccountStats are the counts shown on a profile.
type AccountStats struct {
	Followers, Following, Statuses int64
	LastStatusAt                   time.Time
}
