package starling

import "time"

// List is a person's named selection of accounts they follow, read as its
// own timeline (Mastodon's List).
type List struct {
	ID, AccountID int64
	Title         string
	// RepliesPolicy says which replies by members the list shows besides
	// those to the owner and to the member themselves: to anyone the
	// owner follows, to other members, or none.
	RepliesPolicy string
	// Exclusive lists keep their members' posts out of the home timeline.
	Exclusive bool
}

// The replies policies of a list.
const (
	RepliesFollowed = "followed"
	RepliesList     = "list"
	RepliesNone     = "none"
)

// Filter is a person's content filter (Mastodon's CustomFilter): statuses
// matching one of its keywords or being one of its statuses are hidden or
// shown with a warning in its contexts.
type Filter struct {
	ID, AccountID int64
	Title         string
	Context       []string  // FilterHome, FilterNotifications, …
	Action        string    // FilterWarn or FilterHide
	ExpiresAt     time.Time // zero: never
	Keywords      []FilterKeyword
	Statuses      []FilterStatus
}

// Filter contexts and actions, as Mastodon names them.
const (
	FilterHome          = "home" // the home timeline and lists
	FilterNotifications = "notifications"
	FilterPublic        = "public" // public and hashtag timelines
	FilterThread        = "thread" // a status and its context
	FilterAccount       = "account"
	FilterWarn          = "warn"
	FilterHide          = "hide"
)

// FilterContexts are the valid filter contexts.
var FilterContexts = []string{FilterHome, FilterNotifications, FilterPublic, FilterThread, FilterAccount}

// Active reports whether f applies at now.
func (f *Filter) Active(now time.Time) bool { return f.ExpiresAt.IsZero() || now.Before(f.ExpiresAt) }

// FilterKeyword is a phrase a filter matches.
type FilterKeyword struct {
	ID, FilterID int64
	Keyword      string
	WholeWord    bool
}

// FilterStatus is a status a filter matches by id.
type FilterStatus struct {
	ID, FilterID, StatusID int64
}

// FollowedTag is a hashtag a person follows: Name as they followed it,
// Cursor the order of following.
type FollowedTag struct {
	Cursor int64
	Name   string
}

// FilterKeywordEdit is one change to a filter's keywords (Mastodon's
// keywords_attributes): a new keyword (ID 0), a changed one, or, with
// Destroy, one to remove.
type FilterKeywordEdit struct {
	ID        int64
	Keyword   string
	WholeWord bool
	Destroy   bool
}
