package starling

// Favourite is an account's like of a status.
type Favourite struct {
	ID        int64
	AccountID int64
	StatusID  int64
	URI       string // the Like activity's id
	// Emoji is the reaction a remote Like or EmojiReact carried (a
	// Unicode emoji or a custom ":shortcode:"); empty for a plain favourite.
	Emoji string
}

// Block is an account's block of another.
type Block struct {
	AccountID       int64
	TargetAccountID int64
	URI             string // the Block activity's id
}

// Filters are the block and mute flags of viewer toward one account.
type Filters struct {
	Blocking, BlockedBy, Muting, DomainBlocking bool
}
