package outbox

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/queue"
)

// MaxReportComment is Mastodon's limit on a report's comment.
const MaxReportComment = 1000

// NewReport is what a client sends with POST /api/v1/reports.
type NewReport struct {
	Target    *starling.Account
	StatusIDs []int64 // statuses of Target
	Comment   string
	Category  string // default "other"
	Forward   bool   // also tell Target's server, when it is remote
}

// Report stores reporter's report and, when asked and the account is
// remote, forwards it to the account's server as a Flag from the
// instance actor, so the reporter stays anonymous (as Mastodon does).
// A status that is not the target's is starling.ErrNotFound; a bad
// category or an over-long comment is EINVALID.
func (o *Outbox) Report(ctx context.Context, reporter *starling.Account, p NewReport) (*starling.Report, error) {
	if p.Category == "" {
		p.Category = starling.ReportOther
	}
	switch {
	case !slices.Contains([]string{starling.ReportSpam, starling.ReportLegal, starling.ReportViolation, starling.ReportOther}, p.Category):
		return nil, starling.Errorf(starling.EINVALID, "Validation failed: Category %q is not one of spam, legal, violation, other", p.Category)
	case !starling.ValidText(p.Comment):
		return nil, ErrInvalidText
	case utf8.RuneCountInString(p.Comment) > MaxReportComment:
		return nil, starling.Errorf(starling.EINVALID, "Validation failed: Comment is too long (maximum is %d characters)", MaxReportComment)
	case p.Target.ID == reporter.ID:
		return nil, starling.Errorf(starling.EINVALID, "Validation failed: you cannot report yourself")
	}
	objects := []string{p.Target.URI}
	for _, id := range p.StatusIDs {
		st, err := o.Store.StatusByID(ctx, id)
		if err == nil && st.AccountID != p.Target.ID {
			err = starling.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("report status %d: %w", id, err)
		}
		objects = append(objects, st.URI)
	}
	id := starling.NewID(o.now())
	r := &starling.Report{ID: id, AccountID: reporter.ID, TargetAccountID: p.Target.ID, StatusIDs: p.StatusIDs,
		Comment: p.Comment, Category: p.Category, URI: o.Site.Base() + "/reports/" + strconv.FormatInt(id, 10),
		Forwarded: p.Forward && !p.Target.Local()}
	var act *starling.Activity
	var events []starling.Event
	if r.Forwarded {
		instance, err := o.Store.AccountByAcct(ctx, federation.InstanceActorUsername, "")
		if err != nil {
			return nil, fmt.Errorf("report: instance actor: %w", err)
		}
		flag := map[string]any{
			"@context": activitypub.ActivityStreamsNS,
			"id":       r.URI,
			"type":     "Flag",
			"actor":    instance.URI,
			"content":  r.Comment,
			"object":   objects,
		}
		if act, err = o.activity(ctx, instance, flag, "Flag", p.Target.URI); err != nil {
			return nil, err
		}
		act.ID = id
		if events, err = o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: instance.ID, AccountIDs: []int64{p.Target.ID}}, "", 0); err != nil {
			return nil, err
		}
	}
	if err := o.Store.CreateReport(ctx, r, act, events...); err != nil {
		return nil, err
	}
	return r, nil
}
