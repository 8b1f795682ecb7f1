package queue

import "time"

// The messages below are the wire contract between roles. They carry ids,
// never payloads or keys: the store holds each activity once, and a message
// replayed a day later reads the current truth.

// OutboxEvent announces a local activity to fanout.
type OutboxEvent struct {
	ActivityID int64 `json:"activity_id"`
	ActorID    int64 `json:"actor_id"`
	// Followers: deliver to the actor's followers (Create, Delete).
	Followers bool `json:"followers,omitempty"`
	// AccountIDs: deliver to these accounts' inboxes as well (the followee
	// of a Follow or Undo, the follower of an Accept).
	AccountIDs []int64 `json:"account_ids,omitempty"`
}

// DeliveryMessage is one activity to one inbox. A retry is the same
// message with Attempt counted up, published again when due.
type DeliveryMessage struct {
	ActivityID int64  `json:"activity_id"`
	ActorID    int64  `json:"actor_id"` // whose key signs it
	Inbox      string `json:"inbox"`
	// Attempt is how many attempts were made before this one.
	Attempt       int       `json:"attempt,omitempty"`
	FirstError    string    `json:"first_error,omitempty"`
	FirstFailedAt time.Time `json:"first_failed_at,omitzero"`
	Replay        bool      `json:"replay,omitempty"` // queued again from a dead letter
}

// InboxEvent hands a stored remote activity to processing.
type InboxEvent struct {
	InboxActivityID int64 `json:"inbox_activity_id"`
}

// TimelineEvent says a status was created or deleted (by subject).
type TimelineEvent struct {
	StatusID int64 `json:"status_id"`
}
