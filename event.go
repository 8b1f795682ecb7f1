package starling

import "time"

// Event is a message to publish once the transaction that wrote it commits.
type Event struct {
	MsgID   string            // Nats-Msg-Id: the same logical event always has the same id
	Subject string            // NATS subject
	Payload []byte            // JSON
	Headers map[string]string // correlation id, trace context
	DueAt   time.Time         // publish no earlier than this; zero means now
}

// Activity is an activity this server sends, stored once whatever the
// number of inboxes it goes to.
type Activity struct {
	ID        int64
	URI       string
	Type      string
	ActorID   int64
	ObjectURI string
	Payload   []byte // the JSON document sent, byte for byte
	CreatedAt time.Time
}

// InboxActivity is an activity received from another server.
type InboxActivity struct {
	ID       int64
	URI      string
	Type     string
	ActorURI string
	Payload  []byte
	// ForwardedBy is the key owner that delivered the activity when it is
	// not its actor (a forward); empty when the actor signed it.
	ForwardedBy string
	ReceivedAt  time.Time
	ProcessedAt time.Time
}
