package starling

import "time"

// Notification types, as Mastodon names them.
const (
	NotifyMention   = "mention"
	NotifyFollow    = "follow"
	NotifyFavourite = "favourite"
	NotifyReblog    = "reblog"
	// NotifyFollowRequest: someone asks to follow a locked account.
	NotifyFollowRequest = "follow_request"
)

// Notification tells an account that another did something concerning it.
type Notification struct {
	ID            int64
	AccountID     int64
	Type          string
	FromAccountID int64
	StatusID      int64 // 0 for a follow
	CreatedAt     time.Time

	From   *Account // filled by reads
	Status *Item    // filled by reads when StatusID is set and the status is live
}

// NotificationFilter narrows a page of notifications by type.
type NotificationFilter struct {
	Types, ExcludeTypes []string
}
