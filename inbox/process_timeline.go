package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/queue"
)

// This file applies the activities that concern timelines: boosts, likes,
// blocks, and an actor's Delete of itself (their Undos are in undo).
// Each writes its change and the timeline event in one transaction and is
// idempotent on the activity id.

// TimelineStore is what these activities need of the store.
type TimelineStore interface {
	StatusByURI(ctx context.Context, uri string) (*starling.Status, error)
	CreateReblog(ctx context.Context, s *starling.Status, reblogOfID int64, act *starling.Activity, events ...starling.Event) (*starling.Status, bool, error)
	CreateFavourite(ctx context.Context, f *starling.Favourite, act *starling.Activity, events ...starling.Event) (bool, error)
	DeleteFavourite(ctx context.Context, id int64, uri string, accountID int64, act *starling.Activity, events ...starling.Event) (bool, error)
	CreateBlock(ctx context.Context, b *starling.Block, act *starling.Activity, events ...starling.Event) (bool, error)
	DeleteBlock(ctx context.Context, accountID, targetID int64, act *starling.Activity, events ...starling.Event) (bool, error)
	DeleteRemoteAccount(ctx context.Context, uri string, events func(accountID int64) ([]starling.Event, error)) (bool, error)
	AppendEvents(ctx context.Context, events ...starling.Event) error
}

// announce stores a boost. A boost of a status we do not know yet fetches
// it from its origin and stores it first (as Mastodon's
// FetchRemoteStatusService does); one that cannot be had is dropped.
func (p *Processor) announce(ctx context.Context, act *activitypub.Activity) error {
	booster, err := p.actor(ctx, act)
	if err != nil {
		return err
	}
	if !activitypub.SameHost(act.ID, booster.URI) {
		return queue.Permanent(fmt.Errorf("announce %s is not on its actor's host", act.ID))
	}
	if act.Object.ID == "" {
		return nil
	}
	orig, err := p.Store.StatusByURI(ctx, act.Object.ID)
	if errors.Is(err, starling.ErrNotFound) {
		if _, err := p.Store.StatusIDByURI(ctx, act.Object.ID); err == nil {
			return nil // deleted: its tombstone stays
		}
		// Only the status itself is fetched, not its thread: a boost
		// shows the post, and a flood of boosts must not crawl threads.
		orig, err = p.fetchStatus(ctx, act.Object.ID, 0)
		if queue.IsPermanent(err) {
			p.Logger.Info("dropped a boost of a status that cannot be fetched", "announce", act.ID, "object", act.Object.ID, "error", err)
			return nil
		}
	}
	if err != nil {
		return err
	}
	if orig.Visibility != starling.VisibilityPublic && orig.Visibility != starling.VisibilityUnlisted {
		return nil
	}
	at, err := time.Parse(time.RFC3339, act.Published)
	if err != nil || at.After(time.Now().Add(time.Hour)) {
		at = time.Now()
	}
	boost := starling.NewReblog(starling.NewID(at), act.ID, booster.ID, false, at)
	ev, err := p.timelineEvent(ctx, queue.StatusCreated, boost.ID)
	if err != nil {
		return err
	}
	_, _, err = p.Store.CreateReblog(ctx, boost, orig.ID, nil, ev)
	return err
}

// like stores a favourite and notifies a local author. A reaction (a
// Misskey Like with _misskey_reaction or content, a Pleroma/Akkoma
// EmojiReact) counts as a favourite, as Mastodon counts it, and keeps its
// emoji.
func (p *Processor) like(ctx context.Context, act *activitypub.Activity) error {
	st, err := p.Store.StatusByURI(ctx, act.Object.ID)
	if errors.Is(err, starling.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	who, err := p.actor(ctx, act)
	if err != nil {
		return err
	}
	fav := &starling.Favourite{ID: starling.NewID(time.Now()), AccountID: who.ID, StatusID: st.ID, URI: act.ID,
		Emoji: p.reaction(act.Content)}
	ev, err := p.change(ctx, queue.Notify, "like-"+act.ID, queue.TimelineChange{
		AccountID: st.AccountID, Type: starling.NotifyFavourite, FromAccountID: who.ID, StatusID: st.ID})
	if err != nil {
		return err
	}
	_, err = p.Store.CreateFavourite(ctx, fav, nil, ev)
	return err
}

// reaction returns the emoji of a reaction as text that is safe to store
// and show (a Unicode emoji or a ":shortcode:"), or "" for a plain like.
func (p *Processor) reaction(content string) string {
	e := p.Sanitizer.Text(content)
	if len(e) > 128 {
		return "" // not an emoji: a plain favourite
	}
	return e
}

// block records a remote account's block of a local one: the follows
// between them end and the blocker leaves the local account's feed.
func (p *Processor) block(ctx context.Context, act *activitypub.Activity) error {
	target, err := p.Store.AccountByURI(ctx, act.Object.ID)
	if errors.Is(err, starling.ErrNotFound) || (err == nil && !target.Local()) {
		return nil
	}
	if err != nil {
		return err
	}
	who, err := p.actor(ctx, act)
	if err != nil {
		return err
	}
	ev, err := p.change(ctx, queue.FeedUnmerge, "block-"+act.ID, queue.TimelineChange{
		AccountID: target.ID, TargetAccountID: who.ID, Reblogs: true})
	if err != nil {
		return err
	}
	_, err = p.Store.CreateBlock(ctx, &starling.Block{AccountID: who.ID, TargetAccountID: target.ID, URI: act.ID}, nil, ev)
	return err
}

// deleteAccount applies an actor's Delete of itself: its statuses are
// tombstoned and leave every feed.
func (p *Processor) deleteAccount(ctx context.Context, act *activitypub.Activity) error {
	_, err := p.Store.DeleteRemoteAccount(ctx, act.Actor.ID, func(accountID int64) ([]starling.Event, error) {
		ev, err := p.change(ctx, queue.AccountDeleted, strconv.FormatInt(accountID, 10)+"-"+act.ID,
			queue.TimelineChange{AccountID: accountID})
		return []starling.Event{ev}, err
	})
	return err
}

func (p *Processor) change(ctx context.Context, kind, key string, ch queue.TimelineChange) (starling.Event, error) {
	payload, err := json.Marshal(ch)
	if err != nil {
		return starling.Event{}, fmt.Errorf("encode timeline change: %w", err)
	}
	return starling.Event{
		MsgID:   "timeline-" + kind + "-" + key,
		Subject: p.Topology.Subject(queue.Timeline, kind),
		Payload: payload,
		Headers: queue.TraceFrom(ctx).Headers(),
	}, nil
}
