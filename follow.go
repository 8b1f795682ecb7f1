package starling

import "time"

// Follow is a follow relation, pending until Accepted.
type Follow struct {
	ID         int64
	FollowerID int64
	FolloweeID int64
	URI        string // the Follow activity's id
	Accepted   bool
	CreatedAt  time.Time
}

// Relationship is one account's view of another.
type Relationship struct {
	ID         int64
	Following  bool // accepted follow from the viewer
	Requested  bool // pending follow from the viewer
	FollowedBy bool // accepted follow to the viewer
	// RequestedBy: a pending follow to the viewer (a request to answer).
	RequestedBy bool
	Filters     // blocks, mutes and domain blocks between the two
}
