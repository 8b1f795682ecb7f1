package api

import (
	"cmp"
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/starling-social/starling"
)

// Account is Mastodon's Account entity.
type Account struct {
	ID             string  `json:"id"`
	Username       string  `json:"username"`
	Acct           string  `json:"acct"`
	DisplayName    string  `json:"display_name"`
	Locked         bool    `json:"locked"`
	Bot            bool    `json:"bot"`
	Discoverable   bool    `json:"discoverable"`
	Indexable      bool    `json:"indexable"`
	HideCollection bool    `json:"hide_collections"`
	Group          bool    `json:"group"`
	CreatedAt      string  `json:"created_at"`
	Note           string  `json:"note"`
	URL            string  `json:"url"`
	URI            string  `json:"uri"`
	Avatar         string  `json:"avatar"`
	AvatarStatic   string  `json:"avatar_static"`
	Header         string  `json:"header"`
	HeaderStatic   string  `json:"header_static"`
	FollowersCount int64   `json:"followers_count"`
	FollowingCount int64   `json:"following_count"`
	StatusesCount  int64   `json:"statuses_count"`
	LastStatusAt   *string `json:"last_status_at"`
	Emojis         []any   `json:"emojis"`
	Fields         []Field `json:"fields"`
}

// Field is Mastodon's Field entity, a profile field: Name is text, Value
// is HTML. VerifiedAt is always null: Starling does not check the rel="me"
// links that would verify a value.
type Field struct {
	Name       string  `json:"name"`
	Value      string  `json:"value"`
	VerifiedAt *string `json:"verified_at"`
}

// Status is Mastodon's Status entity.
type Status struct {
	ID                 string             `json:"id"`
	URI                string             `json:"uri"`
	URL                string             `json:"url"`
	CreatedAt          string             `json:"created_at"`
	EditedAt           *string            `json:"edited_at"`
	Account            *Account           `json:"account"`
	Content            string             `json:"content"`
	Visibility         string             `json:"visibility"`
	Sensitive          bool               `json:"sensitive"`
	SpoilerText        string             `json:"spoiler_text"`
	InReplyToID        *string            `json:"in_reply_to_id"`
	InReplyToAccountID *string            `json:"in_reply_to_account_id"`
	Reblog             *Status            `json:"reblog"`
	Language           *string            `json:"language"`
	RepliesCount       int                `json:"replies_count"`
	ReblogsCount       int                `json:"reblogs_count"`
	FavouritesCount    int                `json:"favourites_count"`
	Favourited         bool               `json:"favourited"`
	Reblogged          bool               `json:"reblogged"`
	Muted              bool               `json:"muted"`
	Bookmarked         bool               `json:"bookmarked"`
	Pinned             *bool              `json:"pinned,omitempty"` // for the viewer's own statuses only
	MediaAttachments   []*MediaAttachment `json:"media_attachments"`
	Mentions           []any              `json:"mentions"`
	Tags               []any              `json:"tags"`
	Emojis             []any              `json:"emojis"`
	Card               any                `json:"card"`
	Poll               any                `json:"poll"`
	Text               *string            `json:"text,omitempty"`
	// Filtered lists the viewer's filters the status matches (filters.go).
	Filtered []FilterResult `json:"filtered,omitempty"`
}

// Relationship is Mastodon's Relationship entity.
type Relationship struct {
	ID                  string `json:"id"`
	Following           bool   `json:"following"`
	ShowingReblogs      bool   `json:"showing_reblogs"`
	Notifying           bool   `json:"notifying"`
	FollowedBy          bool   `json:"followed_by"`
	Blocking            bool   `json:"blocking"`
	BlockedBy           bool   `json:"blocked_by"`
	Muting              bool   `json:"muting"`
	MutingNotifications bool   `json:"muting_notifications"`
	Requested           bool   `json:"requested"`
	RequestedBy         bool   `json:"requested_by"`
	DomainBlocking      bool   `json:"domain_blocking"`
	Endorsed            bool   `json:"endorsed"`
	Note                string `json:"note"`
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func id(n int64) string { return strconv.FormatInt(n, 10) }

// account renders a with its counts; a failure to count shows zeros rather
// than failing the request.
func (s *Server) account(ctx context.Context, a *starling.Account) *Account {
	out := &Account{
		ID:           id(a.ID),
		Username:     a.Username,
		Acct:         a.Acct(),
		DisplayName:  a.DisplayName,
		Locked:       a.Locked,
		Bot:          a.Bot,
		Discoverable: a.Discoverable,
		Indexable:    a.Indexable,
		CreatedAt:    formatTime(a.CreatedAt.Truncate(24 * time.Hour)),
		Note:         a.Note,
		URL:          a.URL,
		URI:          a.URI,
		Avatar:       cmp.Or(s.remotePicture(a, a.AvatarURL), s.Site.Base()+missingAvatarPath),
		Header:       cmp.Or(s.remotePicture(a, a.HeaderURL), s.Site.Base()+missingHeaderPath),
		Emojis:       []any{},
		Fields:       make([]Field, 0, len(a.Fields)),
	}
	for _, f := range a.Fields {
		out.Fields = append(out.Fields, Field{Name: f.Name, Value: f.Value})
	}
	out.AvatarStatic, out.HeaderStatic = out.Avatar, out.Header
	if out.URL == "" {
		out.URL = a.URI
	}
	if stats, err := s.Store.AccountStats(ctx, a.ID); err == nil {
		out.FollowersCount, out.FollowingCount, out.StatusesCount = stats.Followers, stats.Following, stats.Statuses
		if !stats.LastStatusAt.IsZero() {
			d := stats.LastStatusAt.UTC().Format("2006-01-02")
			out.LastStatusAt = &d
		}
	}
	return out
}

// status renders st; accounts caches rendered authors across a page.
func (s *Server) status(ctx context.Context, st *starling.Status, accounts map[int64]*Account) *Status {
	author := accounts[st.AccountID]
	if author == nil {
		author = s.account(ctx, st.Account)
		if accounts != nil {
			accounts[st.AccountID] = author
		}
	}
	var edited *string
	if !st.EditedAt.IsZero() {
		t := formatTime(st.EditedAt)
		edited = &t
	}
	var replyTo, replyToAccount *string
	if st.InReplyToID != 0 {
		a, b := id(st.InReplyToID), id(st.InReplyToAccountID)
		replyTo, replyToAccount = &a, &b
	}
	return &Status{
		EditedAt:           edited,
		InReplyToID:        replyTo,
		InReplyToAccountID: replyToAccount,
		Language:           optional(st.Language),
		Emojis:             customEmojis(st.Emojis),
		RepliesCount:       st.RepliesCount,
		ReblogsCount:       st.ReblogsCount,
		FavouritesCount:    st.FavouritesCount,
		ID:                 id(st.ID),
		URI:                st.URI,
		URL:                st.URL,
		CreatedAt:          formatTime(st.CreatedAt),
		Account:            author,
		Content:            st.Content,
		Visibility:         st.Visibility,
		Sensitive:          st.Sensitive,
		SpoilerText:        st.SpoilerText,
		MediaAttachments:   s.attachments(st),
		Mentions:           s.mentions(st),
		Tags:               s.tags(st),
	}
}

func (s *Server) attachments(st *starling.Status) []*MediaAttachment {
	out := make([]*MediaAttachment, 0, len(st.Attachments))
	for i := range st.Attachments {
		out = append(out, s.mediaEntity(&st.Attachments[i]))
	}
	return out
}

// Mention is Mastodon's Status::Mention entity.
type Mention struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	URL      string `json:"url"`
	Acct     string `json:"acct"`
}

// StatusTag is Mastodon's Status::Tag entity.
type StatusTag struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// mentions lists the accounts st mentions that are known here; clients
// prefill a reply with them.
func (s *Server) mentions(st *starling.Status) []any {
	out := make([]any, 0, len(st.MentionedAccounts))
	for _, m := range st.MentionedAccounts {
		a := starling.Account{Username: m.Username, Domain: m.Domain}
		u := m.URL
		if u == "" {
			u = m.URI
		}
		out = append(out, Mention{ID: id(m.ID), Username: m.Username, URL: u, Acct: a.Acct()})
	}
	return out
}

// tags lists st's hashtags with their pages here.
func (s *Server) tags(st *starling.Status) []any {
	out := make([]any, 0, len(st.Hashtags))
	for _, t := range st.Hashtags {
		out = append(out, StatusTag{Name: t, URL: s.Site.Base() + "/tags/" + url.PathEscape(t)})
	}
	return out
}

// optional is nil for an empty string: Mastodon's null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CustomEmoji is Mastodon's CustomEmoji entity.
type CustomEmoji struct {
	Shortcode       string `json:"shortcode"`
	URL             string `json:"url"`
	StaticURL       string `json:"static_url"`
	VisibleInPicker bool   `json:"visible_in_picker"`
}

func customEmojis(list []starling.Emoji) []any {
	out := make([]any, 0, len(list))
	for _, e := range list {
		out = append(out, CustomEmoji{Shortcode: e.Shortcode, URL: e.URL, StaticURL: e.StaticURL})
	}
	return out
}

// remotePicture is a remote account's avatar or header through the remote
// media cache (when on); a local account's as it is.
func (s *Server) remotePicture(a *starling.Account, u string) string {
	if a.Local() {
		return u
	}
	return s.remoteMediaURL(u)
}
