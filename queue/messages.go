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

// TimelineChange is the message of the timeline kinds that concern
// relations rather than one status: FeedUnmerge, Notify, AccountDeleted
// (subjects in topology.go). Each kind reads the fields documented for it.
type TimelineChange struct {
	// FeedUnmerge: remove TargetAccountID's statuses (or Domain's) from
	// AccountID's home feed; Reblogs also removes others' boosts of them.
	AccountID       int64  `json:"account_id,omitempty"`
	TargetAccountID int64  `json:"target_account_id,omitempty"`
	Domain          string `json:"domain,omitempty"`
	Reblogs         bool   `json:"reblogs,omitempty"`
	// Notify: tell AccountID that FromAccountID did Type (follow,
	// favourite) to StatusID. AccountDeleted: AccountID only.
	Type          string `json:"type,omitempty"`
	FromAccountID int64  `json:"from_account_id,omitempty"`
	StatusID      int64  `json:"status_id,omitempty"`
}

// StreamMessage is published on core NATS (subject Topology.StreamSubject)
// after the timeline builder committed a change, for whichever api process
// serves the streams concerned. Like the queue messages it carries ids;
// the api process renders what it sends from the store.
type StreamMessage struct {
	Event          string   `json:"event"` // update, delete, notification, status.update
	StatusID       int64    `json:"status_id,omitempty"`
	NotificationID int64    `json:"notification_id,omitempty"`
	AccountID      int64    `json:"account_id,omitempty"` // the recipient of a notification
	Tags           []string `json:"tags,omitempty"`
	Local          bool     `json:"local,omitempty"`
	Public         bool     `json:"public,omitempty"` // belongs on the public timelines
}
