package starling

import "time"

// DeadLetter is a delivery given up on.
type DeadLetter struct {
	ID            int64
	ActivityID    int64
	ActorID       int64
	Inbox         string
	Host          string
	Attempts      int
	FirstError    string
	LastError     string
	FirstFailedAt time.Time
	LastFailedAt  time.Time
	CreatedAt     time.Time
	ReplayedAt    time.Time // zero until replayed
}

// DeadLetterFilter selects dead letters: by host, by ids, replayed or not.
type DeadLetterFilter struct {
	Host     string
	IDs      []int64
	Replayed bool
	Limit    int
}

// HostHealth is what is known of a destination host.
type HostHealth struct {
	Host          string
	FailureDays   int
	FirstFailedAt time.Time
	LastFailedAt  time.Time
	LastError     string
	LastSuccessAt time.Time
	Unavailable   bool
}

// FailedMessage is a queue message a consumer gave up on.
type FailedMessage struct {
	ID       int64
	Consumer string
	Subject  string
	Payload  []byte
	Attempts int
	Error    string
	FailedAt time.Time
}
