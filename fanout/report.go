package fanout

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/queue"
)

// ReportStore is what the delivery report reads of the store.
type ReportStore interface {
	FailingHosts(ctx context.Context) ([]starling.HostHealth, error)
	DeadLetters(ctx context.Context, f starling.DeadLetterFilter) ([]starling.DeadLetter, error)
	FailedMessages(ctx context.Context, limit int) ([]starling.FailedMessage, error)
}

// Reporter assembles what an admin needs to see about deliveries: which
// hosts are backed up or failing, why, and what to do about it.
type Reporter struct {
	Store     ReportStore
	Monitor   *queue.Monitor
	Deliverer *Deliverer
	// Backlog reports deliveries held in memory behind their host's cap.
	Backlog func(n int) (int, map[string]int)
}

// Report is the admin view of deliveries.
type Report struct {
	Overloaded   bool                `json:"overloaded"`
	Reason       string              `json:"reason,omitempty"`
	Streams      []queue.StreamState `json:"streams"`
	Relay        queue.RelayState    `json:"relay"`
	Waiting      int                 `json:"waiting_in_memory"`
	BusiestHosts map[string]int      `json:"busiest_hosts"`
	Hosts        []HostReport        `json:"failing_hosts"`
	DeadLetters  []DeadLetterReport  `json:"dead_letters"`
	// FailedMessages are queue messages given up on after repeated
	// handler failures (any consumer, not only deliveries).
	FailedMessages []FailedMessageReport `json:"failed_messages"`
}

// FailedMessageReport is one queue message a consumer gave up on.
type FailedMessageReport struct {
	ID       int64     `json:"id"`
	Consumer string    `json:"consumer"`
	Subject  string    `json:"subject"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error"`
	Payload  string    `json:"payload"`
	At       time.Time `json:"at"`
}

// HostReport is one failing host.
type HostReport struct {
	Host          string    `json:"host"`
	Breaker       string    `json:"breaker"`
	FailureDays   int       `json:"failure_days"`
	FailingSince  time.Time `json:"failing_since"`
	LastError     string    `json:"last_error"`
	LastSuccessAt time.Time `json:"last_success_at,omitzero"`
	Unavailable   bool      `json:"unavailable"`
	Advice        string    `json:"advice"`
}

// DeadLetterReport is one dead letter.
type DeadLetterReport struct {
	ID         int64     `json:"id"`
	Host       string    `json:"host"`
	Inbox      string    `json:"inbox"`
	ActivityID int64     `json:"activity_id"`
	Attempts   int       `json:"attempts"`
	FirstError string    `json:"first_error"`
	LastError  string    `json:"last_error"`
	At         time.Time `json:"at"`
}

// DeliveryReport builds the report.
func (r *Reporter) DeliveryReport(ctx context.Context) (any, error) {
	var rep Report
	if r.Monitor != nil {
		rep.Overloaded, rep.Reason = r.Monitor.Pressure()
		rep.Streams, rep.Relay = r.Monitor.Snapshot()
	}
	if r.Backlog != nil {
		rep.Waiting, rep.BusiestHosts = r.Backlog(20)
	}
	hosts, err := r.Store.FailingHosts(ctx)
	if err != nil {
		return nil, err
	}
	rep.Hosts = []HostReport{}
	for _, h := range hosts {
		hr := HostReport{Host: h.Host, Breaker: "closed", FailureDays: h.FailureDays, FailingSince: h.FirstFailedAt,
			LastError: h.LastError, Unavailable: h.Unavailable}
		if h.LastSuccessAt.Unix() > 0 {
			hr.LastSuccessAt = h.LastSuccessAt
		}
		if r.Deliverer != nil {
			hr.Breaker = r.Deliverer.BreakerState(h.Host)
		}
		hr.Advice = advice(hr)
		rep.Hosts = append(rep.Hosts, hr)
	}
	dead, err := r.Store.DeadLetters(ctx, starling.DeadLetterFilter{Limit: 100})
	if err != nil {
		return nil, err
	}
	rep.DeadLetters = []DeadLetterReport{}
	for _, d := range dead {
		rep.DeadLetters = append(rep.DeadLetters, DeadLetterReport{ID: d.ID, Host: d.Host, Inbox: d.Inbox,
			ActivityID: d.ActivityID, Attempts: d.Attempts, FirstError: d.FirstError, LastError: d.LastError, At: d.CreatedAt})
	}
	failed, err := r.Store.FailedMessages(ctx, 100)
	if err != nil {
		return nil, err
	}
	rep.FailedMessages = []FailedMessageReport{}
	for _, f := range failed {
		rep.FailedMessages = append(rep.FailedMessages, FailedMessageReport{ID: f.ID, Consumer: f.Consumer,
			Subject: f.Subject, Attempts: f.Attempts, Error: f.Error, Payload: string(f.Payload), At: f.FailedAt})
	}
	return &rep, nil
}

func advice(h HostReport) string {
	switch {
	case h.Unavailable:
		return fmt.Sprintf("marked unavailable after %d days of failures: new posts skip it; it comes back by itself on its first successful delivery. Replay its dead letters once it is up: starling admin deliveries --replay --host %s", h.FailureDays, h.Host)
	case h.Breaker == "open":
		return "circuit open: deliveries wait without using workers and a probe is sent each timeout; nothing to do unless it stays open for days"
	default:
		return "failing: deliveries are retried on the schedule (about 3 days); nothing to do yet"
	}
}
