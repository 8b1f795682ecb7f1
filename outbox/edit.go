package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/queue"
)

// EditedStatus is what a client sends to edit a status (Mastodon's PUT
// /api/v1/statuses/:id): the whole new text, content warning and flag.
type EditedStatus struct {
	Text        string
	SpoilerText string
	Sensitive   bool
	// MediaIDs, when not nil, replaces the pictures: those the status has
	// and the author's processed, unattached uploads, at most
	// MaxAttachments. nil keeps them.
	MediaIDs []int64
}

// EditStatus applies author's edit to their status id, parsed as a new
// status is (mentions, hashtags, links), keeps the history, and federates
// an Update(Note) to whoever got the Create, plus anyone newly mentioned.
// starling.ErrNotFound when author has no such live local status.
func (o *Outbox) EditStatus(ctx context.Context, author *starling.Account, id int64, p EditedStatus) (*starling.Status, error) {
	old, err := o.Store.StatusByID(ctx, id)
	if err == nil && (old.AccountID != author.ID || !old.Local) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("edit status %d: %w", id, err)
	}
	attachments := old.Attachments
	if p.MediaIDs != nil {
		if attachments, err = o.attachmentsOf(ctx, author, p.MediaIDs, id); err != nil {
			return nil, err
		}
	}
	if err := checkText(p.Text, p.SpoilerText); err != nil && !(err == ErrEmptyStatus && len(attachments) > 0) {
		return nil, err
	}
	c, err := o.compose(ctx, p.Text)
	if err != nil {
		return nil, err
	}
	st := *old
	st.Content, st.SpoilerText, st.Sensitive = c.html, p.SpoilerText, p.Sensitive || p.SpoilerText != ""
	st.SourceText, st.Hashtags, st.Attachments = c.text, c.tags, attachments
	st.EditedAt = o.now().UTC().Truncate(time.Millisecond)
	c.setMentions(&st)
	var parent *starling.Status
	if st.InReplyToURI != "" {
		// Only to address the replied-to author again; gone is fine.
		if parent, err = o.Store.StatusByURI(ctx, st.InReplyToURI); err != nil && !errors.Is(err, starling.ErrNotFound) {
			return nil, fmt.Errorf("edit status %d: %w", id, err)
		}
	}
	note, recipients := o.note(&st, author, c, parent)
	// Those mentioned before the edit hold a copy too.
	before, err := o.Store.StatusMentionIDs(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("edit status %d: %w", id, err)
	}
	for _, m := range before {
		if m != author.ID && !slices.Contains(recipients, m) {
			recipients = append(recipients, m)
		}
	}
	object, err := withUpdated(note, st.EditedAt)
	if err != nil {
		return nil, err
	}
	update := addressed(map[string]any{
		"@context": activitypub.DefaultContext(),
		// Mastodon's form (uri#updates/<edited_at>), in milliseconds so
		// that two edits within a second are two activities.
		"id":        st.URI + "#updates/" + strconv.FormatInt(st.EditedAt.UnixMilli(), 10),
		"type":      "Update",
		"actor":     author.URI,
		"published": st.EditedAt.Format(time.RFC3339),
		"object":    object,
	}, note.To, note.Cc)
	act, err := o.activity(ctx, author, update, "Update", st.URI)
	if err != nil {
		return nil, err
	}
	// Followers: fanout sends an Update to the audience recorded for the
	// Create (which, for a direct status, is its mentioned accounts).
	events, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: author.ID,
		Followers: st.Visibility != starling.VisibilityDirect, AccountIDs: recipients}, queue.StatusUpdated, st.ID)
	if err != nil {
		return nil, err
	}
	if err := o.Store.EditLocalStatus(ctx, &st, act, events...); err != nil {
		return nil, err
	}
	st.Account = author
	return &st, nil
}

// withUpdated is the Note with Mastodon's "updated", which tells receivers
// the object is a new version (ActivityPub::NoteSerializer).
func withUpdated(note *activitypub.Object, at time.Time) (map[string]any, error) {
	b, err := json.Marshal(note)
	if err != nil {
		return nil, fmt.Errorf("encode note: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encode note: %w", err)
	}
	m["updated"] = at.UTC().Format(time.RFC3339)
	return m, nil
}
