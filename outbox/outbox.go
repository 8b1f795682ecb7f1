// Package outbox turns what local people do into activities. Each change
// is stored together with its activity and the events that announce it, in
// one transaction (the transactional outbox); queue.Relay publishes the
// events after the commit. Nothing here talks to NATS or to other servers.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/queue"
)

// Store is what the outbox needs of the store.
type Store interface {
	CreateLocalStatus(ctx context.Context, s *starling.Status, act *starling.Activity, events ...starling.Event) error
	DeleteLocalStatus(ctx context.Context, id, accountID int64, act *starling.Activity, events ...starling.Event) (*starling.Status, error)
	CreateFollow(ctx context.Context, f *starling.Follow, act *starling.Activity, events ...starling.Event) (*starling.Follow, bool, error)
	FollowBetween(ctx context.Context, followerID, followeeID int64) (*starling.Follow, error)
	DeleteFollow(ctx context.Context, id int64, act *starling.Activity, events ...starling.Event) (bool, error)
	InsertActivity(ctx context.Context, a *starling.Activity, events ...starling.Event) (bool, error)
	AccountByAcct(ctx context.Context, username, domain string) (*starling.Account, error)
	AccountByID(ctx context.Context, id int64) (*starling.Account, error)
	StatusByID(ctx context.Context, id int64) (*starling.Status, error)
	StatusByURI(ctx context.Context, uri string) (*starling.Status, error)
	EditLocalStatus(ctx context.Context, s *starling.Status, act *starling.Activity, events ...starling.Event) error
	StatusMentionIDs(ctx context.Context, statusID int64) ([]int64, error)
	MediaByID(ctx context.Context, accountID, id int64) (*starling.MediaAttachment, error)
	UpdateLocalProfile(ctx context.Context, a *starling.Account, prefs starling.Preferences, act *starling.Activity, events ...starling.Event) error
	RotateEd25519Key(ctx context.Context, accountID int64, publicKey, privatePEM string, act *starling.Activity, events ...starling.Event) error
	AnswerFollowRequest(ctx context.Context, id int64, accept bool, act *starling.Activity, events ...starling.Event) (bool, error)
	CreateReport(ctx context.Context, r *starling.Report, act *starling.Activity, events ...starling.Event) error
	InteractionStore // interactions.go
}

// Keys reads the keys a local actor signs with.
type Keys interface {
	// SigningKeys returns the actor's keys as PEM; its Ed25519 key's
	// fields are empty when it has none.
	SigningKeys(ctx context.Context, accountID int64) (starling.SigningKeys, error)
}

// Outbox is safe for concurrent use.
type Outbox struct {
	Store    Store
	Site     federation.Site
	Topology queue.Topology
	// Accounts resolves remote mentions; nil: only accounts already
	// stored can be mentioned.
	Accounts Accounts
	Logger   *slog.Logger     // default slog.Default()
	Now      func() time.Time // default time.Now
	// Keys, when set, signs every activity of an actor that has an
	// Ed25519 key with an eddsa-jcs-2022 proof (FEP-8b32), besides the
	// HTTP signature of each delivery; nil sends activities without.
	Keys Keys
}

func (o *Outbox) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// MaxStatusLength is the longest status text accepted, in characters, as on Mastodon.
const MaxStatusLength = 500

// Errors for what a client asked that cannot be done (EINVALID).
var (
	ErrEmptyStatus       = starling.Errorf(starling.EINVALID, "text can't be blank")
	ErrStatusTooLong     = starling.Errorf(starling.EINVALID, "text is longer than %d characters", MaxStatusLength)
	ErrInvalidVisibility = starling.Errorf(starling.EINVALID, "visibility must be public, unlisted, private or direct")
	ErrFollowSelf        = starling.Errorf(starling.EINVALID, "you can't follow yourself")
	ErrInvalidText       = starling.Errorf(starling.EINVALID, "text must be valid UTF-8 without NUL characters")
)

func (o *Outbox) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// NewStatus is what a client posts.
type NewStatus struct {
	Text        string
	SpoilerText string
	Sensitive   bool
	Visibility  string  // default public
	InReplyToID int64   // 0: not a reply
	MediaIDs    []int64 // the author's processed uploads, at most MaxAttachments
}

// MaxAttachments is how many pictures a status may have, as on Mastodon.
const MaxAttachments = 4

// CreateStatus stores a status by author with its Create activity, and
// announces it to fanout (followers, the mentioned, the replied-to author)
// and timeline (local feeds). A reply to a status the author may not see,
// or that does not exist, is starling.ErrNotFound, as on Mastodon.
func (o *Outbox) CreateStatus(ctx context.Context, author *starling.Account, p NewStatus) (*starling.Status, error) {
	if p.Visibility == "" {
		p.Visibility = starling.VisibilityPublic
	}
	if !starling.ValidVisibility(p.Visibility) {
		return nil, ErrInvalidVisibility
	}
	attachments, err := o.attachmentsOf(ctx, author, p.MediaIDs, 0)
	if err != nil {
		return nil, err
	}
	if err := checkText(p.Text, p.SpoilerText); err != nil && !(err == ErrEmptyStatus && len(attachments) > 0) {
		return nil, err
	}
	var parent *starling.Status
	if p.InReplyToID != 0 {
		var err error
		if parent, err = o.visibleParent(ctx, author, p.InReplyToID); err != nil {
			return nil, err
		}
	}
	c, err := o.compose(ctx, p.Text)
	if err != nil {
		return nil, err
	}
	now := o.now().UTC().Truncate(time.Millisecond)
	id := starling.NewID(now)
	st := &starling.Status{
		ID:          id,
		URI:         o.Site.StatusURI(author.Username, id),
		URL:         o.Site.StatusURL(author.Username, id),
		AccountID:   author.ID,
		Local:       true,
		Content:     c.html,
		SpoilerText: p.SpoilerText,
		Sensitive:   p.Sensitive || p.SpoilerText != "",
		Visibility:  p.Visibility,
		CreatedAt:   now,
		Hashtags:    c.tags,
		SourceText:  c.text,
		Attachments: attachments,
	}
	if parent != nil {
		st.InReplyToURI, st.InReplyToID, st.InReplyToAccountID = parent.URI, parent.ID, parent.AccountID
	}
	c.setMentions(st)
	note, recipients := o.note(st, author, c, parent)
	create := addressed(map[string]any{
		"@context":  activitypub.DefaultContext(),
		"id":        st.URI + "/activity",
		"type":      "Create",
		"actor":     author.URI,
		"published": note.Published,
		"object":    note,
	}, note.To, note.Cc)
	act, err := o.activity(ctx, author, create, "Create", st.URI)
	if err != nil {
		return nil, err
	}
	events, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: author.ID,
		Followers: st.Visibility != starling.VisibilityDirect, AccountIDs: recipients},
		queue.StatusCreated, st.ID)
	if err != nil {
		return nil, err
	}
	if err := o.Store.CreateLocalStatus(ctx, st, act, events...); err != nil {
		return nil, fmt.Errorf("create status: %w", err)
	}
	st.Account = author
	return st, nil
}

// attachmentsOf returns the author's uploads ids, ready to attach to the
// status statusID (0 for a new one): each the author's own, processed,
// and on no other status (EINVALID otherwise, naming the ids, as
// Mastodon does).
func (o *Outbox) attachmentsOf(ctx context.Context, author *starling.Account, ids []int64, statusID int64) ([]starling.MediaAttachment, error) {
	if len(ids) > MaxAttachments {
		return nil, starling.Errorf(starling.EINVALID, "Validation failed: Media attachments are limited to %d", MaxAttachments)
	}
	var out []starling.MediaAttachment
	var bad []string
	for _, id := range ids {
		m, err := o.Store.MediaByID(ctx, author.ID, id)
		if errors.Is(err, starling.ErrNotFound) || err == nil && (m.State != starling.MediaReady || m.StatusID != 0 && m.StatusID != statusID) {
			bad = append(bad, strconv.FormatInt(id, 10))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("attach media %d: %w", id, err)
		}
		if slices.ContainsFunc(out, func(a starling.MediaAttachment) bool { return a.ID == m.ID }) {
			continue
		}
		m.URL, m.PreviewURL = o.Site.MediaURL(m.FileKey), o.Site.MediaURL(m.SmallKey)
		out = append(out, *m)
	}
	if len(bad) > 0 {
		return nil, starling.Errorf(starling.EINVALID, "Validation failed: Media attachments not found or not processed yet: %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// setMentions records c's mentioned accounts on st.
func (c *composed) setMentions(st *starling.Status) {
	st.Mentions, st.MentionIDs, st.MentionedAccounts = nil, nil, nil
	for _, a := range c.mentioned {
		st.Mentions = append(st.Mentions, a.URI)
		st.MentionIDs = append(st.MentionIDs, a.ID)
		st.MentionedAccounts = append(st.MentionedAccounts, starling.MentionedAccount{ID: a.ID, Username: a.Username,
			Domain: a.Domain, URL: a.URL, URI: a.URI})
	}
}

// addressed sets an activity's to and cc, leaving out an empty one: a
// null where an IRI list belongs trips up strict receivers.
func addressed(doc map[string]any, to, cc []string) map[string]any {
	if len(to) > 0 {
		doc["to"] = to
	}
	if len(cc) > 0 {
		doc["cc"] = cc
	}
	return doc
}

// checkText refuses what no status may hold: NUL (PostgreSQL cannot store
// it in text) and invalid UTF-8, then applies Mastodon's length rules.
func checkText(text, spoiler string) error {
	for _, s := range []string{text, spoiler} {
		if !starling.ValidText(s) {
			return ErrInvalidText
		}
	}
	if strings.TrimSpace(text) == "" {
		return ErrEmptyStatus
	}
	if countableLength(text)+utf8.RuneCountInString(spoiler) > MaxStatusLength {
		return ErrStatusTooLong
	}
	return nil
}

// countableLength is a text's length as Mastodon counts it
// (StatusLengthValidator), and as clients count it while one types: a
// link counts 23 characters whatever its length, a mention of a remote
// account only its "@username".
func countableLength(text string) int {
	text = normalizeText(text)
	n := utf8.RuneCountInString(text)
	for _, e := range scanText(text) {
		switch {
		case e.kind == entityURL:
			n += 23 - utf8.RuneCountInString(text[e.start:e.end])
		case e.kind == entityMention && e.host != "":
			n -= utf8.RuneCountInString(text[e.start:e.end]) - utf8.RuneCountInString("@"+e.text)
		}
	}
	return n
}

// visibleParent returns the status id if author may see it (Mastodon's
// StatusPolicy#show?): public and unlisted to all, private to the author
// and accepted followers, direct to the author and the mentioned.
func (o *Outbox) visibleParent(ctx context.Context, author *starling.Account, id int64) (*starling.Status, error) {
	st, err := o.Store.StatusByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("status replied to: %w", err)
	}
	if st.AccountID == author.ID || st.Visibility == starling.VisibilityPublic || st.Visibility == starling.VisibilityUnlisted {
		return st, nil
	}
	if st.Visibility == starling.VisibilityPrivate {
		f, err := o.Store.FollowBetween(ctx, author.ID, st.AccountID)
		if err == nil && f.Accepted {
			return st, nil
		}
		if err != nil && !errors.Is(err, starling.ErrNotFound) {
			return nil, fmt.Errorf("status replied to: %w", err)
		}
	}
	ids, err := o.Store.StatusMentionIDs(ctx, st.ID)
	if err != nil {
		return nil, fmt.Errorf("status replied to: %w", err)
	}
	for _, m := range ids {
		if m == author.ID {
			return st, nil
		}
	}
	return nil, fmt.Errorf("status replied to %d: %w", id, starling.ErrNotFound)
}

// note renders st as the Note it is sent as, with its tags and Mastodon's
// addressing, and returns the accounts whose inboxes receive it besides
// the followers: the mentioned and, for a public or unlisted reply, the
// replied-to author. Mastodon reaches the replied-to author only when the
// reply is public or unlisted (StatusReachFinder); a private or direct
// reply reaches whom it mentions, which clients fill in.
func (o *Outbox) note(st *starling.Status, author *starling.Account, c *composed, parent *starling.Status) (*activitypub.Object, []int64) {
	var ids []int64
	var uris []string
	for _, a := range c.mentioned {
		if a.ID != author.ID {
			ids = append(ids, a.ID)
		}
		uris = append(uris, a.URI)
	}
	var extra string
	if parent != nil && parent.AccountID != author.ID && parent.Account != nil &&
		(st.Visibility == starling.VisibilityPublic || st.Visibility == starling.VisibilityUnlisted) {
		extra = parent.Account.URI
		if !slices.Contains(ids, parent.AccountID) {
			ids = append(ids, parent.AccountID)
		}
	}
	n := o.Site.Note(st, author)
	n.To, n.Cc = addressing(st.Visibility, author.FollowersURL, uris, extra)
	n.Tag = o.noteTags(c)
	return n, ids
}

// DeleteStatus deletes author's status id and federates a Delete. It
// returns the status as it was; starling.ErrNotFound if author has no such status.
func (o *Outbox) DeleteStatus(ctx context.Context, author *starling.Account, id int64) (*starling.Status, error) {
	uri := o.Site.StatusURI(author.Username, id)
	del := map[string]any{
		"@context": activitypub.DefaultContext(),
		"id":       uri + "#delete",
		"type":     "Delete",
		"actor":    author.URI,
		"to":       []string{activitypub.Public},
		"object":   map[string]any{"id": uri, "type": "Tombstone"},
	}
	act, err := o.activity(ctx, author, del, "Delete", uri)
	if err != nil {
		return nil, err
	}
	events, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: author.ID, Followers: true},
		queue.StatusDeleted, id)
	if err != nil {
		return nil, err
	}
	st, err := o.Store.DeleteLocalStatus(ctx, id, author.ID, act, events...)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Follow makes follower follow followee. A remote followee gets a Follow
// and the follow stays requested until its Accept arrives; a local one that
// is not locked is followed at once. Following twice changes nothing.
func (o *Outbox) Follow(ctx context.Context, follower, followee *starling.Account) (*starling.Follow, error) {
	if follower.ID == followee.ID {
		return nil, ErrFollowSelf
	}
	id := starling.NewID(o.now())
	f := &starling.Follow{ID: id, FollowerID: follower.ID, FolloweeID: followee.ID, URI: o.Site.ActivityURI(id)}
	if followee.Local() {
		f.Accepted = !followee.Locked
		events, err := o.followEvents(ctx, f)
		if err != nil {
			return nil, err
		}
		got, _, err := o.Store.CreateFollow(ctx, f, nil, events...)
		return got, err
	}
	follow := map[string]any{
		"@context": activitypub.ActivityStreamsNS,
		"id":       f.URI,
		"type":     "Follow",
		"actor":    follower.URI,
		"object":   followee.URI,
	}
	act, err := o.activity(ctx, follower, follow, "Follow", followee.URI)
	if err != nil {
		return nil, err
	}
	act.ID, act.URI = id, f.URI
	events, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: follower.ID, AccountIDs: []int64{followee.ID}}, "", 0)
	if err != nil {
		return nil, err
	}
	got, _, err := o.Store.CreateFollow(ctx, f, act, events...)
	return got, err
}

// Unfollow ends follower's follow of followee (or withdraws the request),
// sending Undo(Follow) to a remote followee. With no follow it does nothing.
func (o *Outbox) Unfollow(ctx context.Context, follower, followee *starling.Account) error {
	f, err := o.Store.FollowBetween(ctx, follower.ID, followee.ID)
	if errors.Is(err, starling.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unfollow: %w", err)
	}
	unmerge, err := o.unmerge(ctx, follower.ID, followee.ID, "", false)
	if err != nil {
		return err
	}
	if followee.Local() {
		_, err := o.Store.DeleteFollow(ctx, f.ID, nil, unmerge)
		return err
	}
	undo := map[string]any{
		"@context": activitypub.ActivityStreamsNS,
		"id":       f.URI + "#undo",
		"type":     "Undo",
		"actor":    follower.URI,
		"object": map[string]any{
			"id": f.URI, "type": "Follow", "actor": follower.URI, "object": followee.URI,
		},
	}
	act, err := o.activity(ctx, follower, undo, "Undo", f.URI)
	if err != nil {
		return err
	}
	events, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: follower.ID, AccountIDs: []int64{followee.ID}}, "", 0)
	if err != nil {
		return err
	}
	_, err = o.Store.DeleteFollow(ctx, f.ID, act, append(events, unmerge)...)
	return err
}

// AcceptFollow sends followee's Accept of a remote follower's Follow. The
// Accept's id is derived from the follow, so asking twice (a redelivered
// Follow, a process that died between the follow and the Accept) sends
// one Accept.
func (o *Outbox) AcceptFollow(ctx context.Context, followee, follower *starling.Account, f *starling.Follow) error {
	act, events, err := o.answerFollow(ctx, "Accept", followee, follower, f)
	if err != nil {
		return err
	}
	if _, err := o.Store.InsertActivity(ctx, act, events...); err != nil {
		return fmt.Errorf("accept follow %s: %w", f.URI, err)
	}
	return nil
}

// answerFollow builds followee's Accept or Reject of a remote follower's
// Follow and its outbox event. Its id derives from the follow, so
// answering twice sends one answer.
func (o *Outbox) answerFollow(ctx context.Context, typ string, followee, follower *starling.Account, f *starling.Follow) (*starling.Activity, []starling.Event, error) {
	answer := map[string]any{
		"@context": activitypub.ActivityStreamsNS,
		"id":       followee.URI + "#" + strings.ToLower(typ) + "s/follows/" + strconv.FormatInt(f.ID, 10),
		"type":     typ,
		"actor":    followee.URI,
		"object": map[string]any{
			"id": f.URI, "type": "Follow", "actor": follower.URI, "object": followee.URI,
		},
	}
	act, err := o.activity(ctx, followee, answer, typ, f.URI)
	if err != nil {
		return nil, nil, err
	}
	events, err := o.events(ctx, act, queue.OutboxEvent{ActivityID: act.ID, ActorID: followee.ID, AccountIDs: []int64{follower.ID}}, "", 0)
	if err != nil {
		return nil, nil, err
	}
	return act, events, nil
}

func (o *Outbox) activity(ctx context.Context, actor *starling.Account, doc map[string]any, typ, object string) (*starling.Activity, error) {
	payload, err := o.prove(ctx, actor, doc)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", typ, err)
	}
	return &starling.Activity{
		ID:        starling.NewID(o.now()),
		URI:       doc["id"].(string),
		Type:      typ,
		ActorID:   actor.ID,
		ObjectURI: object,
		Payload:   payload,
	}, nil
}

// events returns the outbox event for fanout and, when timelineKind is set,
// the timeline event for statusID. Message ids derive from the activity, so
// a relay that publishes twice publishes once.
func (o *Outbox) events(ctx context.Context, act *starling.Activity, ev queue.OutboxEvent, timelineKind string, statusID int64) ([]starling.Event, error) {
	headers := queue.TraceFrom(ctx).Headers()
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode outbox event: %w", err)
	}
	events := []starling.Event{{
		MsgID:   "outbox-" + strconv.FormatInt(act.ID, 10),
		Subject: o.Topology.Subject(queue.Outbox, strings.ToLower(act.Type)),
		Payload: payload,
		Headers: headers,
	}}
	if timelineKind != "" {
		payload, err := json.Marshal(queue.TimelineEvent{StatusID: statusID})
		if err != nil {
			return nil, fmt.Errorf("encode timeline event: %w", err)
		}
		msgID := "timeline-" + timelineKind + "-" + strconv.FormatInt(statusID, 10)
		if timelineKind == queue.StatusUpdated {
			msgID += "-" + strconv.FormatInt(act.ID, 10) // a status is edited many times
		}
		events = append(events, starling.Event{
			MsgID:   msgID,
			Subject: o.Topology.Subject(queue.Timeline, timelineKind),
			Payload: payload,
			Headers: headers,
		})
	}
	return events, nil
}
