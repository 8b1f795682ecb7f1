package starling

import (
	"strings"
	"time"
	"unicode/utf8"
)

// StatusEdit is one version of an edited status (Mastodon's StatusEdit).
type StatusEdit struct {
	ID          int64
	StatusID    int64
	AccountID   int64
	Content     string
	SpoilerText string
	Sensitive   bool
	CreatedAt   time.Time
}

// Visibility values, as Mastodon names them.
const (
	VisibilityPublic   = "public"
	VisibilityUnlisted = "unlisted"
	VisibilityPrivate  = "private"
	VisibilityDirect   = "direct"
)

// Status is a post, local or remote.
type Status struct {
	ID           int64
	URI          string
	URL          string
	AccountID    int64
	Local        bool
	Content      string
	SpoilerText  string
	Sensitive    bool
	Visibility   string
	InReplyToURI string
	// InReplyToID and InReplyToAccountID are the replied-to status and its
	// author when that status is known here (0 otherwise); read only.
	InReplyToID, InReplyToAccountID int64
	CreatedAt                       time.Time
	DeletedAt                       time.Time // zero unless deleted
	EditedAt                        time.Time // zero unless edited
	// SourceText is the plain text a local status was written as
	// (Mastodon's StatusSource), empty for others; written by
	// CreateLocalStatus and EditLocalStatus.
	SourceText string

	// Written by InsertRemoteStatus and CreateLocalStatus, read with
	// StatusExtrasByURI.
	QuoteURI string
	Language string   // BCP 47, from contentMap; empty when unknown
	Emojis   []Emoji  // custom emojis of the content and content warning
	Mentions []string // actor IRIs
	Hashtags []string // lower case, without '#'
	// Attachments are the status's pictures, in order (copies of their
	// media_attachments rows for a local status).
	Attachments []MediaAttachment
	// Counts of live replies, boosts and favourites known here; read only,
	// as of the query (a render cache may hold them a few seconds).
	RepliesCount, ReblogsCount, FavouritesCount int

	// MentionedAccounts are the known accounts among Mentions; read only.
	MentionedAccounts []MentionedAccount
	// MentionIDs are the accounts a local status mentions; CreateLocalStatus
	// indexes them (status_mentions) with its hashtags (status_tags), so
	// mention notifications and tag timelines need not read them back
	// from the HTML.
	MentionIDs []int64

	Account *Account // filled by queries that join the author
}

// MentionedAccount is an account a status mentions, as the API shows it.
type MentionedAccount struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Domain   string `json:"domain"` // empty for a local account
	URL      string `json:"url"`
	URI      string `json:"uri"`
}

// StatusExtras are the fields of a remote status beyond its text: the post
// it quotes, and the actors and hashtags it mentions.
type StatusExtras struct {
	QuoteURI string
	Mentions []string // actor IRIs
	Hashtags []string // lower case, without '#'
}

// NewReblog returns the status row of a boost. A boost is public, as
// Mastodon's are: only public and unlisted statuses can be boosted.
func NewReblog(id int64, uri string, accountID int64, local bool, at time.Time) *Status {
	return &Status{ID: id, URI: uri, AccountID: accountID, Local: local, Visibility: VisibilityPublic, CreatedAt: at}
}

// StatusMeta is what the timeline builder reads of a status to index it.
type StatusMeta struct {
	ID, AccountID, ReblogOfID int64
	ReblogAccountID           int64 // author of the boosted status
	Local                     bool
	// Content is what mentions and hashtags are read from: a remote
	// status's HTML, and for a local one the text it was written as. A
	// local status's HTML shows a remote mention as "@bob" alone (as
	// Mastodon's does), which the builder would read as the local bob;
	// its source says "@bob@host".
	Content    string
	Visibility string
	// Mentions (actor IRIs) and Hashtags (lower case) of a remote status,
	// from its tag property, as the inbox stored them.
	Mentions, Hashtags []string
}

// ValidVisibility reports whether v is one of the four visibilities.
func ValidVisibility(v string) bool {
	switch v {
	case VisibilityPublic, VisibilityUnlisted, VisibilityPrivate, VisibilityDirect:
		return true
	}
	return false
}

// ValidText reports whether s can be stored as text: valid UTF-8 without
// NUL (PostgreSQL refuses both, and so would any client that reads it).
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Validate returns EINVALID when s cannot be stored: no URI or author, an
// unknown visibility, or text that is not valid UTF-8 or holds NUL.
func (s *Status) Validate() error {
	switch {
	case s.URI == "":
		return Errorf(EINVALID, "status has no uri")
	case s.AccountID == 0:
		return Errorf(EINVALID, "status %s has no author", s.URI)
	case !ValidVisibility(s.Visibility):
		return Errorf(EINVALID, "status %s: unknown visibility %q", s.URI, s.Visibility)
	case !ValidText(s.Content) || !ValidText(s.SpoilerText) || !ValidText(s.SourceText):
		return Errorf(EINVALID, "status %s: text must be valid UTF-8 without NUL characters", s.URI)
	}
	return nil
}

// Emoji is a custom emoji a status uses, as Mastodon's CustomEmoji entity
// names its fields.
type Emoji struct {
	Shortcode string `json:"shortcode"`
	URL       string `json:"url"`
	StaticURL string `json:"static_url"`
}
