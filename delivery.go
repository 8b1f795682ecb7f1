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
	// StatusID: only deliveries of activities about this status (its
	// Create, Update, Delete).
	StatusID int64
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

// ParkedAfter is how far ahead a paused host's deliveries are parked as
// events: the relay never reaches them, and resuming brings back exactly
// those due later than half of it (ordinary retries are due within a day).
const ParkedAfter = 10 * 365 * 24 * time.Hour

// Delivery states, as recorded per (activity, inbox).
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// DeliveryOutcome is the result of one delivery attempt, recorded against
// its (activity, inbox) row.
type DeliveryOutcome struct {
	ActivityID  int64
	Inbox       string
	State       string // DeliveryPending (a retry is scheduled), DeliveryDelivered, DeliveryDead
	Attempts    int    // attempts made so far, this one included
	LastError   string
	LastStatus  int       // HTTP status of the last answer, 0 if none
	NextAttempt time.Time // when State is pending
	Latency     time.Duration
}

// HostOutcome is an outcome with the host it concerns.
type HostOutcome struct {
	Host string
	DeliveryOutcome
}

// HostBacklog is the operator's row for one destination host.
type HostBacklog struct {
	Host            string        `json:"host"`
	Pending         int64         `json:"pending"`
	InFlight        int           `json:"in_flight"`
	OldestPending   time.Time     `json:"oldest_pending_at,omitzero"`
	OldestAge       time.Duration `json:"-"`
	Attempts        int           `json:"attempts"` // the most attempts any pending delivery has had
	NextAttempt     time.Time     `json:"next_attempt_at,omitzero"`
	LastError       string        `json:"last_error"`
	LastStatus      int           `json:"last_status,omitempty"`
	Breaker         string        `json:"breaker"`
	Unavailable     bool          `json:"unavailable"`
	FailingSince    time.Time     `json:"failing_since,omitzero"`
	Delivered1h     int64         `json:"delivered_last_hour"`
	Delivered24h    int64         `json:"delivered_last_day"`
	MedianLatencyMS float64       `json:"median_latency_ms"`
	Signature       string        `json:"signature,omitempty"`
	// SignatureRefused is the newer standard the host last refused, tried
	// again a week after SignatureRefusedAt (federation.Knocker).
	SignatureRefused   string    `json:"signature_refused,omitempty"`
	SignatureRefusedAt time.Time `json:"signature_refused_at,omitzero"`
	Paused             bool      `json:"paused"`
	Suspended          bool      `json:"suspended"`
}

// HostBacklogFilter selects and pages the host table.
type HostBacklogFilter struct {
	Host   string // one host only
	Only   string // "", "failing", "unavailable", "paused", "suspended"
	Limit  int
	Offset int
}

// HostControl is what an admin decided about a host.
type HostControl struct {
	Host      string
	Paused    bool
	Suspended bool
	RetryAt   time.Time
	PurgedAt  time.Time
}

// DeliveryTrace is one destination of one post.
type DeliveryTrace struct {
	ActivityID   int64     `json:"activity_id"`
	ActivityType string    `json:"activity_type"`
	Inbox        string    `json:"inbox"`
	Host         string    `json:"host"`
	State        string    `json:"state"`
	Attempts     int       `json:"attempts"`
	LastError    string    `json:"last_error,omitempty"`
	LastStatus   int       `json:"last_status,omitempty"`
	NextAttempt  time.Time `json:"next_attempt_at,omitzero"`
	DeliveredAt  time.Time `json:"delivered_at,omitzero"`
	QueuedAt     time.Time `json:"queued_at"`
}

// AdminAction is one audited operator action.
type AdminAction struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Target   string    `json:"target"`
	Affected int64     `json:"affected"`
	Detail   string    `json:"detail,omitempty"`
}

// DeliveryRate is one bucket of the delivery history the admin page
// charts: deliveries queued and delivered in [At, At+step), and the
// backlog (pending deliveries) last sampled in it, -1 when no sample was
// taken then (no process with the fanout role was running).
type DeliveryRate struct {
	At        time.Time `json:"at"`
	Queued    int64     `json:"queued"`
	Delivered int64     `json:"delivered"`
	Pending   int64     `json:"pending"`
}

// BacklogSampleKeep is how long backlog samples are kept.
const BacklogSampleKeep = 48 * time.Hour

// NewDeliveryHistory returns the empty buckets of a delivery history from
// since to now, step apart, with no backlog sample (Pending -1). Stores
// fill them by BucketIndex.
func NewDeliveryHistory(since, now time.Time, step time.Duration) []DeliveryRate {
	var out []DeliveryRate
	for at := since; at.Before(now); at = at.Add(step) {
		out = append(out, DeliveryRate{At: at, Pending: -1})
	}
	return out
}

// DeliveryAttempt is one failed delivery attempt, kept for the operator's
// view of a host (its attempt history) as long as deliveries are.
type DeliveryAttempt struct {
	At         time.Time `json:"at"`
	ActivityID int64     `json:"activity_id,string"`
	Inbox      string    `json:"inbox"`
	Attempt    int       `json:"attempt"`
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error"`
}

// HostSignature is what a remote host is known to verify: the HTTP
// signature standard to sign its requests with (federation.Knocker's
// names: "draft-cavage", "rfc9421", "rfc9421-ed25519"), and the newer
// standard it last refused and when, if a knock was refused. The Knocker
// knocks with the refused standard again once the refusal is some days
// old.
type HostSignature struct {
	Standard  string
	Refused   string
	RefusedAt time.Time // zero when Refused is ""
}
