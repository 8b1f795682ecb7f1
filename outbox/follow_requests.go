package outbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/starling-social/starling"
)

// AuthorizeFollow accepts follower's pending request to follow the locked
// account followee: the follow counts from now, and a remote follower's
// server gets an Accept. starling.ErrNotFound when there is no pending
// request (none, or already answered).
func (o *Outbox) AuthorizeFollow(ctx context.Context, followee, follower *starling.Account) error {
	return o.answerRequest(ctx, true, followee, follower)
}

// RejectFollow refuses follower's pending request to follow followee: the
// request is removed, and a remote follower's server gets a Reject.
// starling.ErrNotFound when there is no pending request.
func (o *Outbox) RejectFollow(ctx context.Context, followee, follower *starling.Account) error {
	return o.answerRequest(ctx, false, followee, follower)
}

func (o *Outbox) answerRequest(ctx context.Context, accept bool, followee, follower *starling.Account) error {
	what := map[bool]string{true: "authorize", false: "reject"}[accept]
	f, err := o.Store.FollowBetween(ctx, follower.ID, followee.ID)
	if err == nil && f.Accepted {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("%s follow request of %d: %w", what, follower.ID, err)
	}
	var act *starling.Activity
	var events []starling.Event
	if !follower.Local() {
		typ := map[bool]string{true: "Accept", false: "Reject"}[accept]
		if act, events, err = o.answerFollow(ctx, typ, followee, follower, f); err != nil {
			return err
		}
	}
	answered, err := o.Store.AnswerFollowRequest(ctx, f.ID, accept, act, events...)
	if err == nil && !answered {
		err = starling.ErrNotFound // answered meanwhile
	}
	if err != nil && !errors.Is(err, starling.ErrNotFound) {
		return fmt.Errorf("%s follow request of %d: %w", what, follower.ID, err)
	}
	return err
}
