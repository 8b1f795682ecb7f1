package starling

import "time"

// Marker is where a user stopped reading a timeline ("home" or
// "notifications"); Version counts the saves.
type Marker struct {
	LastReadID int64
	Version    int
	UpdatedAt  time.Time
}

// ViewerFlags are a viewer's own marks on a status.
type ViewerFlags struct {
	Favourited, Reblogged, Bookmarked, Pinned bool
}

// ListedAccount is one entry of a paged list of accounts (followers,
// blocks, …): Cursor is what the next page is bounded by.
type ListedAccount struct {
	Cursor  int64
	Account *Account
}

// AccountList names a list of accounts related to one account.
type AccountList string

// The lists of accounts.
const (
	ListFollowers      AccountList = "followers"
	ListFollowing      AccountList = "following"
	ListBlocks         AccountList = "blocks"
	ListMutes          AccountList = "mutes"
	ListFollowRequests AccountList = "follow_requests"
)

// StatusFilter narrows an account's statuses, as Mastodon's
// /api/v1/accounts/:id/statuses parameters.
type StatusFilter struct {
	ExcludeReplies, ExcludeReblogs, OnlyMedia, Pinned bool
	Tagged                                            string // lower case, no '#'
}

// MarkedItem is a status in a list the viewer made (bookmarks,
// favourites), with the cursor of its mark: such lists are ordered by when
// the mark was made, not by the status.
type MarkedItem struct {
	Cursor int64
	*Item
}
