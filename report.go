package starling

import "time"

// Report categories, as Mastodon names them.
const (
	ReportSpam      = "spam"
	ReportLegal     = "legal"
	ReportViolation = "violation"
	ReportOther     = "other"
)

// Report is a local user's report of an account (and some of its
// statuses) to this server's moderators, forwarded to the account's own
// server when the reporter asks.
type Report struct {
	ID              int64
	AccountID       int64 // the reporter
	TargetAccountID int64
	StatusIDs       []int64
	Comment         string
	Category        string
	Forwarded       bool
	URI             string // the Flag's id when forwarded, and the report's in any case
	CreatedAt       time.Time
}
