package starling

import "context"

// DefaultFeedCap is how many entries a home feed keeps, as on Mastodon.
const DefaultFeedCap = 800

// Page selects a window of a timeline the way Mastodon does: MaxID and
// SinceID bound it from above and below, newest first; MinID returns the
// statuses just above it, oldest of them first, then reversed so the page
// still reads newest first.
type Page struct {
	MaxID, SinceID, MinID int64
	Limit                 int
}

// Item is one entry of a timeline as a viewer sees it: a status, or a boost
// together with the status it boosts.
type Item struct {
	*Status
	ReblogOfID int64
	Reblog     *Status // the boosted status, with its author, when this is a boost
	// Favourited and Reblogged say whether the viewer has favourited or
	// boosted the status (the boosted one, for a boost).
	Favourited, Reblogged bool
}

// FeedRef is one entry of a home feed page before rendering: the status
// (or boost) id, the boosted status's id, and the viewer's flags (on the
// boosted status, for a boost).
type FeedRef struct {
	ID, ReblogOfID                            int64
	Favourited, Reblogged, Bookmarked, Pinned bool
}

type viewerKey struct{}

// WithViewer tells timeline queries whose favourites and boosts to mark.
func WithViewer(ctx context.Context, accountID int64) context.Context {
	return context.WithValue(ctx, viewerKey{}, accountID)
}

// ViewerFromContext returns the account set by WithViewer, 0 when none is.
func ViewerFromContext(ctx context.Context) int64 {
	id, _ := ctx.Value(viewerKey{}).(int64)
	return id
}

// Conversation is one of an account's direct conversations: the other
// participants and the latest direct status among them.
type Conversation struct {
	ID           int64
	Participants []int64 // the other accounts, sorted by id
	LastStatusID int64
	Unread       bool
}
