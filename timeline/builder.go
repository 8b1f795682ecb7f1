// Package timeline materialises home feeds and notifications. It consumes
// events from the timeline stream (local actions from the outbox, remote
// ones from inbox processing), writes each status into every feed that
// should show it in one set-wise statement, indexes hashtags and mentions,
// notifies, and announces each committed change on core NATS for the
// streaming API. A background trimmer keeps feeds to their cap.
package timeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/queue"
)

// Store is what the builder needs of the store.
type Store interface {
	StatusMeta(ctx context.Context, id int64) (*starling.StatusMeta, error)
	IndexStatus(ctx context.Context, statusID int64, tags []string, mentions []int64) error
	AccountIDsByMention(ctx context.Context, usernames, domains, uris []string) ([]int64, error)
	AddStatusToFeeds(ctx context.Context, statusID int64) (int64, error)
	AddToConversations(ctx context.Context, statusID int64) (int64, error)
	RemoveStatusFromFeeds(ctx context.Context, statusID int64) (int64, error)
	Unmerge(ctx context.Context, accountID, targetID int64, domain string, reblogs bool) (int64, error)
	RemoveAccountFromFeeds(ctx context.Context, accountID int64) (int64, error)
	InsertNotification(ctx context.Context, n *starling.Notification) (bool, error)
}

// Publisher announces a streaming event (the JSON of a
// queue.StreamMessage) to every api process; *queue.Conn is one.
type Publisher interface {
	PublishStream(data []byte) error
}

// Builder applies timeline events. It keeps no state: any number may run.
type Builder struct {
	Store       Store
	Publisher   Publisher // nil: no streaming events
	Topology    queue.Topology
	LocalDomain string // this server's host, so "@bob@ourhost" is the local bob
	Logger      *slog.Logger
}

// HandleTimeline is the queue.Handler of the timeline stream. Every branch
// is idempotent: feed rows are unique per (account, status), tags and
// mentions per status, notifications per (recipient, type, sender,
// status), and a deleted status is never added. A replay repeats at most a
// streaming event, which clients key by id.
func (b *Builder) HandleTimeline(ctx context.Context, msg queue.Message) error {
	subject := msg.Subject
	for _, kind := range []string{queue.StatusCreated, queue.StatusDeleted, queue.StatusUpdated, queue.FeedUnmerge, queue.Notify, queue.AccountDeleted} {
		if strings.HasSuffix(subject, "."+kind) {
			return b.Apply(ctx, kind, msg.Data)
		}
	}
	return queue.Permanent(fmt.Errorf("unknown timeline subject %s", subject))
}

// Apply applies one event of a kind (queue.StatusCreated …) with its JSON
// payload.
func (b *Builder) Apply(ctx context.Context, kind string, data []byte) error {
	switch kind {
	case queue.StatusCreated, queue.StatusDeleted, queue.StatusUpdated:
		var ev queue.TimelineEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return queue.Permanent(fmt.Errorf("decode timeline event: %w", err))
		}
		switch kind {
		case queue.StatusCreated:
			return b.statusCreated(ctx, ev.StatusID)
		case queue.StatusUpdated:
			return b.statusUpdated(ctx, ev.StatusID)
		}
		n, err := b.Store.RemoveStatusFromFeeds(ctx, ev.StatusID)
		if err != nil {
			return err
		}
		b.Logger.Debug("status removed from feeds", "status_id", ev.StatusID, "feeds", n)
		b.publish(queue.StreamMessage{Event: "delete", StatusID: ev.StatusID})
		return nil
	}
	var ch queue.TimelineChange
	if err := json.Unmarshal(data, &ch); err != nil {
		return queue.Permanent(fmt.Errorf("decode timeline change: %w", err))
	}
	switch kind {
	case queue.FeedUnmerge:
		n, err := b.Store.Unmerge(ctx, ch.AccountID, ch.TargetAccountID, ch.Domain, ch.Reblogs)
		if err != nil {
			return err
		}
		b.Logger.Debug("unmerged", "account_id", ch.AccountID, "target", ch.TargetAccountID, "domain", ch.Domain, "rows", n)
	case queue.Notify:
		return b.notify(ctx, &starling.Notification{AccountID: ch.AccountID, Type: ch.Type,
			FromAccountID: ch.FromAccountID, StatusID: ch.StatusID})
	case queue.AccountDeleted:
		n, err := b.Store.RemoveAccountFromFeeds(ctx, ch.AccountID)
		if err != nil {
			return err
		}
		b.Logger.Debug("account removed from feeds", "account_id", ch.AccountID, "rows", n)
	default:
		return queue.Permanent(fmt.Errorf("unknown timeline kind %s", kind))
	}
	return nil
}

func (b *Builder) statusCreated(ctx context.Context, id int64) error {
	meta, err := b.Store.StatusMeta(ctx, id)
	if errors.Is(err, starling.ErrNotFound) {
		return nil // deleted before we got to it: nothing to show
	}
	if err != nil {
		return err
	}
	tags, mentioned, err := b.index(ctx, meta)
	if err != nil {
		return err
	}
	n, err := b.Store.AddStatusToFeeds(ctx, id)
	if err != nil {
		return err
	}
	b.Logger.Debug("status added to feeds", "status_id", id, "feeds", n)
	if meta.Visibility == starling.VisibilityDirect {
		// After indexing: the mentions are the participants.
		if _, err := b.Store.AddToConversations(ctx, id); err != nil {
			return err
		}
	}
	b.publish(queue.StreamMessage{Event: "update", StatusID: id, Tags: tags, Local: meta.Local,
		Public: meta.Visibility == starling.VisibilityPublic && meta.ReblogOfID == 0})
	for _, acct := range mentioned {
		if err := b.notify(ctx, &starling.Notification{AccountID: acct, Type: starling.NotifyMention,
			FromAccountID: meta.AccountID, StatusID: id}); err != nil {
			return err
		}
	}
	if meta.ReblogOfID != 0 {
		return b.notify(ctx, &starling.Notification{AccountID: meta.ReblogAccountID, Type: starling.NotifyReblog,
			FromAccountID: meta.AccountID, StatusID: meta.ReblogOfID})
	}
	return nil
}

// index records a status's hashtags and the local accounts it mentions,
// and returns them; a boost has neither.
func (b *Builder) index(ctx context.Context, meta *starling.StatusMeta) (tags []string, mentioned []int64, err error) {
	if meta.ReblogOfID != 0 {
		return nil, nil, nil
	}
	tags = extractTags(meta.Content)
	m := extractMentions(meta.Content, meta.Local, b.LocalDomain)
	if !meta.Local {
		// A remote status names its mentions and hashtags in its tag
		// property, which the inbox stored: that is what the remote
		// server meant (Mastodon reads only it), and servers whose HTML
		// carries no mention links (Misskey, Lemmy) are read right.
		// The HTML's links still count, for servers that send no tags.
		m.uris = append(m.uris, meta.Mentions...)
		tags = mergeTags(tags, meta.Hashtags)
	}
	if len(m.usernames)+len(m.uris) > 0 {
		if mentioned, err = b.Store.AccountIDsByMention(ctx, m.usernames, m.domains, m.uris); err != nil {
			return nil, nil, err
		}
	}
	// Mentions first: a direct status reaches its addressees' feeds
	// through them.
	if err := b.Store.IndexStatus(ctx, meta.ID, tags, mentioned); err != nil {
		return nil, nil, err
	}
	return tags, mentioned, nil
}

// statusUpdated applies an edit: the status is indexed again (an edit may
// add hashtags and mentions; the newly mentioned are notified, the others
// already were), and streams are told to show it anew, as Mastodon's
// status.update event does.
func (b *Builder) statusUpdated(ctx context.Context, id int64) error {
	meta, err := b.Store.StatusMeta(ctx, id)
	if errors.Is(err, starling.ErrNotFound) {
		return nil // deleted since: nothing to show
	}
	if err != nil {
		return err
	}
	tags, mentioned, err := b.index(ctx, meta)
	if err != nil {
		return err
	}
	b.publish(queue.StreamMessage{Event: "status.update", StatusID: id, Tags: tags, Local: meta.Local,
		Public: meta.Visibility == starling.VisibilityPublic})
	for _, acct := range mentioned {
		if err := b.notify(ctx, &starling.Notification{AccountID: acct, Type: starling.NotifyMention,
			FromAccountID: meta.AccountID, StatusID: id}); err != nil {
			return err
		}
	}
	return nil
}

// notify stores a notification once and streams it when it is new.
func (b *Builder) notify(ctx context.Context, n *starling.Notification) error {
	n.ID = starling.NewID(time.Now())
	added, err := b.Store.InsertNotification(ctx, n)
	if err != nil || !added {
		return err
	}
	b.publish(queue.StreamMessage{Event: "notification", NotificationID: n.ID, AccountID: n.AccountID})
	return nil
}

// publish announces a committed change to streaming clients. It is best
// effort: a lost message costs a live update, never a feed entry.
func (b *Builder) publish(m queue.StreamMessage) {
	if b.Publisher == nil {
		return
	}
	data, err := json.Marshal(m)
	if err == nil {
		err = b.Publisher.PublishStream(data)
	}
	if err != nil {
		b.Logger.Warn("publish streaming event", "event", m.Event, "error", err)
	}
}
