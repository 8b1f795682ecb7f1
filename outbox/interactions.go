package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/queue"
)

// InteractionStore is what boosts, favourites, blocks and mutes need of
// the store.
type InteractionStore interface {
	CreateReblog(ctx context.Context, s *starling.Status, reblogOfID int64, act *starling.Activity, events ...starling.Event) (*starling.Status, bool, error)
	LiveReblog(ctx context.Context, accountID, statusID int64) (*starling.Status, error)
	DeleteReblog(ctx context.Context, id, accountID int64, act *starling.Activity, events ...starling.Event) (bool, error)
	CreateFavourite(ctx context.Context, f *starling.Favourite, act *starling.Activity, events ...starling.Event) (bool, error)
	FavouriteOf(ctx context.Context, accountID, statusID int64) (*starling.Favourite, error)
	DeleteFavourite(ctx context.Context, id int64, uri string, accountID int64, act *starling.Activity, events ...starling.Event) (bool, error)
	CreateBlock(ctx context.Context, b *starling.Block, act *starling.Activity, events ...starling.Event) (bool, error)
	BlockBetween(ctx context.Context, accountID, targetID int64) (*starling.Block, error)
	DeleteBlock(ctx context.Context, accountID, targetID int64, act *starling.Activity, events ...starling.Event) (bool, error)
	CreateMute(ctx context.Context, accountID, targetID int64, events ...starling.Event) (bool, error)
	DeleteMute(ctx context.Context, accountID, targetID int64) (bool, error)
	CreateDomainBlock(ctx context.Context, accountID int64, domain string, events ...starling.Event) (bool, error)
	DeleteDomainBlock(ctx context.Context, accountID int64, domain string) error
}

// ErrCannotReblog is returned for a boost of a followers-only or direct
// status (EINVALID).
var ErrCannotReblog = starling.Errorf(starling.EINVALID, "this status can't be boosted")

// Reblog boosts st (a live status with its author) as booster: a boost
// status row and an Announce to booster's followers and to st's remote
// author. Boosting twice returns the first boost.
func (o *Outbox) Reblog(ctx context.Context, booster *starling.Account, st *starling.Status) (*starling.Status, error) {
	if st.Visibility != starling.VisibilityPublic && st.Visibility != starling.VisibilityUnlisted {
		return nil, ErrCannotReblog
	}
	now := o.now().UTC()
	id := starling.NewID(now)
	boost := starling.NewReblog(id, o.Site.StatusURI(booster.Username, id)+"/activity", booster.ID, true, now)
	announce := map[string]any{
		"@context":  activitypub.ActivityStreamsNS,
		"id":        boost.URI,
		"type":      "Announce",
		"actor":     booster.URI,
		"published": now.Format("2006-01-02T15:04:05Z"),
		"to":        []string{activitypub.Public},
		"cc":        []string{st.Account.URI, booster.FollowersURL},
		"object":    st.URI,
	}
	act, err := o.activity(ctx, booster, announce, "Announce", st.URI)
	if err != nil {
		return nil, err
	}
	events, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: booster.ID, Followers: true,
		AccountIDs: remoteOnly(st.Account)}, queue.StatusCreated, id)
	if err != nil {
		return nil, err
	}
	got, _, err := o.Store.CreateReblog(ctx, boost, st.ID, act, events...)
	if err != nil {
		return nil, err
	}
	return got, nil
}

// Unreblog withdraws booster's boost of statusID, sending Undo(Announce).
// Without a boost it does nothing.
func (o *Outbox) Unreblog(ctx context.Context, booster *starling.Account, st *starling.Status) error {
	boost, err := o.Store.LiveReblog(ctx, booster.ID, st.ID)
	if errors.Is(err, starling.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unreblog: %w", err)
	}
	undo := map[string]any{
		"@context": activitypub.ActivityStreamsNS,
		"id":       boost.URI + "#undo",
		"type":     "Undo",
		"actor":    booster.URI,
		"to":       []string{activitypub.Public},
		"object":   map[string]any{"id": boost.URI, "type": "Announce", "actor": booster.URI, "object": st.URI},
	}
	act, err := o.activity(ctx, booster, undo, "Undo", boost.URI)
	if err != nil {
		return err
	}
	events, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: booster.ID, Followers: true,
		AccountIDs: remoteOnly(st.Account)}, queue.StatusDeleted, boost.ID)
	if err != nil {
		return err
	}
	_, err = o.Store.DeleteReblog(ctx, boost.ID, booster.ID, act, events...)
	return err
}

// Favourite records who's favourite of st, sends a Like to a remote
// author and notifies a local one. Favouriting twice changes nothing.
func (o *Outbox) Favourite(ctx context.Context, who *starling.Account, st *starling.Status) error {
	id := starling.NewID(o.now())
	fav := &starling.Favourite{ID: id, AccountID: who.ID, StatusID: st.ID, URI: who.URI + "#likes/" + strconv.FormatInt(id, 10)}
	like := map[string]any{
		"@context": activitypub.ActivityStreamsNS,
		"id":       fav.URI,
		"type":     "Like",
		"actor":    who.URI,
		"object":   st.URI,
	}
	var events []starling.Event
	var act *starling.Activity
	if !st.Account.Local() {
		var err error
		if act, err = o.activity(ctx, who, like, "Like", st.URI); err != nil {
			return err
		}
		if events, err = o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: who.ID,
			AccountIDs: []int64{st.AccountID}}, "", 0); err != nil {
			return err
		}
	} else {
		ev, err := o.change(ctx, queue.Notify, "favourite-"+strconv.FormatInt(id, 10), queue.TimelineChange{
			AccountID: st.AccountID, Type: starling.NotifyFavourite, FromAccountID: who.ID, StatusID: st.ID})
		if err != nil {
			return err
		}
		events = append(events, ev)
	}
	_, err := o.Store.CreateFavourite(ctx, fav, act, events...)
	return err
}

// Unfavourite removes who's favourite of st, sending Undo(Like) to a
// remote author.
func (o *Outbox) Unfavourite(ctx context.Context, who *starling.Account, st *starling.Status) error {
	fav, err := o.Store.FavouriteOf(ctx, who.ID, st.ID)
	if errors.Is(err, starling.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unfavourite: %w", err)
	}
	var act *starling.Activity
	var events []starling.Event
	if !st.Account.Local() {
		undo := map[string]any{
			"@context": activitypub.ActivityStreamsNS,
			"id":       fav.URI + "/undo",
			"type":     "Undo",
			"actor":    who.URI,
			"object":   map[string]any{"id": fav.URI, "type": "Like", "actor": who.URI, "object": st.URI},
		}
		if act, err = o.activity(ctx, who, undo, "Undo", fav.URI); err != nil {
			return err
		}
		if events, err = o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: who.ID,
			AccountIDs: []int64{st.AccountID}}, "", 0); err != nil {
			return err
		}
	}
	_, err = o.Store.DeleteFavourite(ctx, fav.ID, "", who.ID, act, events...)
	return err
}

// Block makes who block target: follows between them end, target's
// statuses and boosts of them leave who's feed, and a remote target gets a
// Block.
func (o *Outbox) Block(ctx context.Context, who, target *starling.Account) error {
	if who.ID == target.ID {
		return ErrFollowSelf
	}
	id := starling.NewID(o.now())
	b := &starling.Block{AccountID: who.ID, TargetAccountID: target.ID, URI: o.Site.ActivityURI(id)}
	events, act, err := o.relationEvents(ctx, who, target, map[string]any{
		"@context": activitypub.ActivityStreamsNS, "id": b.URI, "type": "Block", "actor": who.URI, "object": target.URI,
	}, "Block")
	if err != nil {
		return err
	}
	_, err = o.Store.CreateBlock(ctx, b, act, events...)
	return err
}

// Unblock ends who's block of target, sending Undo(Block) to a remote one.
func (o *Outbox) Unblock(ctx context.Context, who, target *starling.Account) error {
	b, err := o.Store.BlockBetween(ctx, who.ID, target.ID)
	if errors.Is(err, starling.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unblock: %w", err)
	}
	var act *starling.Activity
	var events []starling.Event
	if !target.Local() {
		undo := map[string]any{
			"@context": activitypub.ActivityStreamsNS, "id": b.URI + "#undo", "type": "Undo", "actor": who.URI,
			"object": map[string]any{"id": b.URI, "type": "Block", "actor": who.URI, "object": target.URI},
		}
		if act, err = o.activity(ctx, who, undo, "Undo", b.URI); err != nil {
			return err
		}
		if events, err = o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: who.ID,
			AccountIDs: []int64{target.ID}}, "", 0); err != nil {
			return err
		}
	}
	_, err = o.Store.DeleteBlock(ctx, who.ID, target.ID, act, events...)
	return err
}

// Mute hides target from who's feed and notifications. Nothing federates.
func (o *Outbox) Mute(ctx context.Context, who, target *starling.Account) error {
	if who.ID == target.ID {
		return ErrFollowSelf
	}
	ev, err := o.unmerge(ctx, who.ID, target.ID, "", true)
	if err != nil {
		return err
	}
	_, err = o.Store.CreateMute(ctx, who.ID, target.ID, ev)
	return err
}

// Unmute ends who's mute of target; what was hidden does not come back
// into the feed (as on Mastodon), later statuses do.
func (o *Outbox) Unmute(ctx context.Context, who, target *starling.Account) error {
	_, err := o.Store.DeleteMute(ctx, who.ID, target.ID)
	return err
}

// BlockDomain hides everything from domain from who. Nothing federates.
func (o *Outbox) BlockDomain(ctx context.Context, who *starling.Account, domain string) error {
	ev, err := o.unmerge(ctx, who.ID, 0, domain, true)
	if err != nil {
		return err
	}
	_, err = o.Store.CreateDomainBlock(ctx, who.ID, domain, ev)
	return err
}

// UnblockDomain ends who's block of domain.
func (o *Outbox) UnblockDomain(ctx context.Context, who *starling.Account, domain string) error {
	return o.Store.DeleteDomainBlock(ctx, who.ID, domain)
}

// relationEvents returns the unmerge event for who's feed and, for a
// remote target, the activity doc and its outbox event.
func (o *Outbox) relationEvents(ctx context.Context, who, target *starling.Account, doc map[string]any, typ string) ([]starling.Event, *starling.Activity, error) {
	ev, err := o.unmerge(ctx, who.ID, target.ID, "", true)
	if err != nil {
		return nil, nil, err
	}
	events := []starling.Event{ev}
	if target.Local() {
		return events, nil, nil
	}
	act, err := o.activity(ctx, who, doc, typ, target.URI)
	if err != nil {
		return nil, nil, err
	}
	out, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: who.ID, AccountIDs: []int64{target.ID}}, "", 0)
	if err != nil {
		return nil, nil, err
	}
	return append(events, out...), act, nil
}

// unmerge is the timeline event that takes target's (or domain's) entries
// out of accountID's feed.
func (o *Outbox) unmerge(ctx context.Context, accountID, targetID int64, domain string, reblogs bool) (starling.Event, error) {
	key := strconv.FormatInt(starling.NewID(o.now()), 10)
	return o.change(ctx, queue.FeedUnmerge, key, queue.TimelineChange{
		AccountID: accountID, TargetAccountID: targetID, Domain: domain, Reblogs: reblogs})
}

// followEvents are the timeline events of a new follow of a local account:
// a notification of the follow, or of the request when the account is
// locked.
func (o *Outbox) followEvents(ctx context.Context, f *starling.Follow) ([]starling.Event, error) {
	typ := starling.NotifyFollow
	if !f.Accepted {
		typ = starling.NotifyFollowRequest
	}
	ev, err := o.change(ctx, queue.Notify, typ+"-"+strconv.FormatInt(f.ID, 10), queue.TimelineChange{
		AccountID: f.FolloweeID, Type: typ, FromAccountID: f.FollowerID})
	if err != nil {
		return nil, err
	}
	return []starling.Event{ev}, nil
}

// change returns a timeline event carrying ch; key makes its message id
// stable for one logical change.
func (o *Outbox) change(ctx context.Context, kind, key string, ch queue.TimelineChange) (starling.Event, error) {
	payload, err := json.Marshal(ch)
	if err != nil {
		return starling.Event{}, fmt.Errorf("encode timeline change: %w", err)
	}
	return starling.Event{
		MsgID:   "timeline-" + kind + "-" + key,
		Subject: o.Topology.Subject(queue.Timeline, kind),
		Payload: payload,
		Headers: queue.TraceFrom(ctx).Headers(),
	}, nil
}

func remoteOnly(a *starling.Account) []int64 {
	if a == nil || a.Local() {
		return nil
	}
	return []int64{a.ID}
}
