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
