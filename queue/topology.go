// Package queue is Starling's wiring to NATS JetStream: the names of the
// streams and subjects, their limits, the relay that moves committed events
// from the store's transactional outbox onto JetStream, durable consumers
// with explicit acks, and the correlation headers that cross every hop.
//
// It is shared because every role talks to the same streams; keeping the
// names, limits and ack rules in one place is what keeps them consistent.
package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream kinds. Each is one JetStream stream.
const (
	// Outbox carries local activities ready to federate (Create, Delete,
	// Follow, Undo, Accept). Consumed by fanout.
	Outbox = "outbox"
	// Delivery carries one message per (activity, remote inbox), on a
	// subject per destination host. Consumed by fanout's delivery workers.
	Delivery = "delivery"
	// Inbox carries verified remote activities awaiting processing.
	// Consumed by inbox's processor.
	Inbox = "inbox"
	// Timeline carries status created/deleted events, from local posts and
	// processed remote ones. Consumed by the timeline builder.
	Timeline = "timeline"
)

// Timeline event kinds.
const (
	StatusCreated = "status.created"
	StatusDeleted = "status.deleted"
	// StatusUpdated carries a TimelineEvent: a status was edited, so
	// streams and render caches show it anew and its tags are reindexed.
	StatusUpdated = "status.updated"
	// FeedUnmerge carries a TimelineChange: an unfollow, block, mute or
	// domain block whose entries must leave a home feed.
	FeedUnmerge = "feed.unmerge"
	// Notify carries a TimelineChange: a follow or favourite to notify.
	Notify = "notify"
	// AccountDeleted carries a TimelineChange: a remote account deleted
	// itself; its statuses leave every feed.
	AccountDeleted = "account.deleted"
)

// Stream is the kind of the core NATS subjects (not a JetStream stream)
// on which the timeline builder announces committed changes to streaming
// clients: <prefix>.stream.events. Core NATS delivers to every api process
// subscribed at that moment and keeps nothing: a client that is not
// connected has nothing to miss, and reconnecting clients re-read the REST
// timelines as Mastodon's do.
const Stream = "stream"

// StreamSubject is the subject of streaming events.
func (t Topology) StreamSubject() string { return t.Subject(Stream, "events") }

// Topology names streams and subjects under one prefix, so that several
// Starling instances can share one NATS cluster without seeing each
// other's messages.
type Topology struct {
	prefix string
}

// DefaultPrefix is the subject prefix of a Starling that is told nothing else.
const DefaultPrefix = "starling"

// NewTopology returns the names under prefix (DefaultPrefix if empty).
func NewTopology(prefix string) (Topology, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	for _, r := range prefix {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return Topology{}, fmt.Errorf("nats prefix %q: use only a-z, 0-9, '_' and '-'", prefix)
		}
	}
	return Topology{prefix: prefix}, nil
}

// Stream returns the JetStream stream name of a kind, e.g. STARLING_OUTBOX.
func (t Topology) Stream(kind string) string {
	return strings.ToUpper(strings.ReplaceAll(t.prefix, "-", "_") + "_" + kind)
}

// Subjects returns the subject filter covering a kind, e.g. starling.outbox.>.
func (t Topology) Subjects(kind string) string { return t.prefix + "." + kind + ".>" }

// EventStream names a kind's events in the store's outbox: the first two
// tokens of their subjects, e.g. starling.outbox. The relay claims each
// stream's events apart.
func (t Topology) EventStream(kind string) string { return t.prefix + "." + kind }

// Subject returns a subject within a kind, e.g. starling.outbox.create.
func (t Topology) Subject(kind, rest string) string { return t.prefix + "." + kind + "." + rest }

// DeliverySubject is the subject of deliveries to host. Dots and other
// characters NATS gives meaning to are replaced, so one host is one token:
// per-host consumers and per-host backlogs fall out of the subject.
func (t Topology) DeliverySubject(host string) string {
	return t.Subject(Delivery, HostToken(host))
}

// InboxSubject is the subject of an activity received from host: the inbox
// consumer is keyed by it, as deliveries are by theirs.
func (t Topology) InboxSubject(host string) string {
	return t.Subject(Inbox, "received."+HostToken(host))
}

// HostToken turns a host (with optional port) into one subject token.
func HostToken(host string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '_'
		case ':':
			return '~'
		case '*', '>', ' ', '\t', '\r', '\n':
			return '-'
		}
		return r
	}, strings.ToLower(host))
}

// Limits bound a stream. When a stream is full JetStream refuses new
// messages (DiscardNew), so producers learn of the pile-up at once instead of
// old messages vanishing.
type Limits struct {
	MaxMsgs  int64
	MaxBytes int64
	// Replicas is how many servers of a NATS cluster keep each stream
	// (and its consumers): 3 survives the loss of one; default 1. A
	// stream created with other replicas is scaled to these.
	Replicas int
}

// DefaultLimits returns a kind's limits: generous for one machine, and
// small enough that a stuck consumer is noticed long before the disk fills.
func DefaultLimits(kind string) Limits {
	switch kind {
	case Delivery:
		return Limits{MaxMsgs: 10_000_000, MaxBytes: 4 << 30}
	case Inbox:
		return Limits{MaxMsgs: 1_000_000, MaxBytes: 2 << 30}
	default:
		return Limits{MaxMsgs: 1_000_000, MaxBytes: 1 << 30}
	}
}

// EnsureStreams creates or updates every stream of the topology. Work
// streams use work-queue retention: a message leaves once its one durable
// consumer acks it, so the stream's size is the backlog.
// A non-zero field of override replaces that limit on every stream.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, t Topology, override Limits) error {
	for _, kind := range []string{Outbox, Delivery, Inbox, Timeline} {
		lim := DefaultLimits(kind)
		if override.MaxMsgs > 0 {
			lim.MaxMsgs = override.MaxMsgs
		}
		if override.MaxBytes > 0 {
			lim.MaxBytes = override.MaxBytes
		}
		cfg := jetstream.StreamConfig{
			Name:       t.Stream(kind),
			Subjects:   []string{t.Subjects(kind)},
			Retention:  jetstream.WorkQueuePolicy,
			Discard:    jetstream.DiscardNew,
			MaxMsgs:    lim.MaxMsgs,
			MaxBytes:   lim.MaxBytes,
			Storage:    jetstream.FileStorage,
			Duplicates: 10 * time.Minute,
			Replicas:   max(override.Replicas, 1),
		}
		// An existing stream is updated to cfg, its replicas included:
		// JetStream scales a stream up or down in place.
		s, err := js.CreateOrUpdateStream(ctx, cfg)
		if err != nil {
			return fmt.Errorf("ensure stream %s with %d replicas: %w", cfg.Name, cfg.Replicas, err)
		}
		// nats-server before 2.10 takes replicas it cannot keep (it is
		// not in a cluster) and keeps one copy: say so rather than run on
		// one copy believing in three. Later ones refuse, as above.
		if cfg.Replicas > 1 && s.CachedInfo().Cluster == nil {
			return fmt.Errorf("ensure stream %s with %d replicas: the NATS server is not in a cluster and keeps one copy", cfg.Name, cfg.Replicas)
		}
	}
	return nil
}

// ErrStreamFull is wrapped by publish errors when a stream is at its limits.
var ErrStreamFull = errors.New("stream is full")
