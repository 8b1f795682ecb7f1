package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/queue"
	"github.com/starling-social/starling/sanitize"
)

// ProcessStore is what the processor needs of the store.
type ProcessStore interface {
	InboxActivityByID(ctx context.Context, id int64) (*starling.InboxActivity, error)
	MarkInboxProcessed(ctx context.Context, id int64) error
	InsertRemoteStatus(ctx context.Context, s *starling.Status, events ...starling.Event) (bool, error)
	DeleteRemoteStatus(ctx context.Context, uri string, accountID int64, events ...starling.Event) (bool, error)
	StatusIDByURI(ctx context.Context, uri string) (int64, error)
	AccountByURI(ctx context.Context, uri string) (*starling.Account, error)
	UpsertRemoteFollow(ctx context.Context, f *starling.Follow) (*starling.Follow, error)
	FollowByURI(ctx context.Context, uri string) (*starling.Follow, error)
	FollowBetween(ctx context.Context, followerID, followeeID int64) (*starling.Follow, error)
	AcceptFollow(ctx context.Context, id int64) (bool, error)
	DeleteFollow(ctx context.Context, id int64, act *starling.Activity, events ...starling.Event) (bool, error)
	TimelineStore // process_timeline.go
}

// Actors resolves remote actors.
type Actors interface {
	Actor(ctx context.Context, uri string, refresh bool) (*starling.Account, error)
	// UpdateActor stores an actor's own document, from an Update it sent.
	UpdateActor(ctx context.Context, actorURI string, raw []byte) (*starling.Account, error)
}

// Accepter sends a local account's Accept of a follow; the outbox does it.
type Accepter interface {
	AcceptFollow(ctx context.Context, followee, follower *starling.Account, f *starling.Follow) error
}

// Processor applies stored remote activities.
type Processor struct {
	Store    ProcessStore
	Actors   Actors
	Accepter Accepter
	Topology queue.Topology
	Logger   *slog.Logger
	Metrics  *Metrics
	// Fetcher fetches objects from their origin: a forwarded Create's
	// object, a boosted status, a reply's parent. nil: nothing is fetched
	// (forwards and boosts of unknown statuses are dropped).
	Fetcher Fetcher
	// Sanitizer cleans remote HTML and text before it is stored; required
	// (one policy, built once by the caller and shared).
	Sanitizer *sanitize.Policy

	// FetchesPerHost caps fetches per host per minute (default
	// DefaultFetchesPerHost); ContextDepth, how many ancestors of a reply
	// are fetched (DefaultContextDepth); ContextTimeout, how long that may
	// take (DefaultContextTimeout).
	FetchesPerHost int
	ContextDepth   int
	ContextTimeout time.Duration

	limiter hostLimiter
	flight  singleflight.Group // fetches of statuses, by uri
}

// HandleInbox is the queue.Handler of the inbox stream. Every branch is
// idempotent: a redelivered event finds its effects already in place.
func (p *Processor) HandleInbox(ctx context.Context, msg queue.Message) error {
	var ev queue.InboxEvent
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		return queue.Permanent(fmt.Errorf("decode inbox event: %w", err))
	}
	return p.Process(ctx, ev.InboxActivityID)
}

// Process applies the stored activity id, once: an activity already marked
// processed is skipped. Errors marked queue.Permanent will never succeed.
func (p *Processor) Process(ctx context.Context, id int64) error {
	stored, err := p.Store.InboxActivityByID(ctx, id)
	if errors.Is(err, starling.ErrNotFound) {
		return queue.Permanent(err)
	}
	if err != nil {
		return err
	}
	if !stored.ProcessedAt.IsZero() {
		return nil
	}
	var act activitypub.Activity
	if err := json.Unmarshal(stored.Payload, &act); err != nil {
		return queue.Permanent(fmt.Errorf("decode activity %s: %w", stored.URI, err))
	}
	if act.Type == "Like" && act.Content == "" {
		// Misskey names a Like's reaction in _misskey_reaction as well as
		// (or, in older versions, instead of) content.
		var mk struct {
			Reaction string `json:"_misskey_reaction"`
		}
		if json.Unmarshal(stored.Payload, &mk) == nil {
			act.Content = mk.Reaction
		}
	}
	var relay *activitypub.Activity
	if inner := groupAnnounced(&act); inner != nil {
		relay = &activitypub.Activity{ID: act.ID, Type: act.Type, Actor: act.Actor, To: act.To, Cc: act.Cc}
		act = *inner
	}
	// Only the object's origin vouches for a forwarded object; nor does a
	// group's signature vouch for the words of another actor of its host
	// (any account there could call itself a group and relay a Create
	// "by" a neighbour), so a relayed Create or Update is refetched too.
	relayedForOther := relay != nil && act.Actor.ID != relay.Actor.ID && (act.Type == "Create" || act.Type == "Update")
	if stored.ForwardedBy != "" || relayedForOther {
		if err := p.refetch(ctx, &act); err != nil {
			return fmt.Errorf("apply %s %s as its origin serves it: %w", act.Type, act.ID, err)
		}
	}
	if err := p.apply(ctx, &act, relay); err != nil {
		if starling.IsDataError(err) {
			// The store refuses this input and always will: retrying it
			// forever would hold up the stream.
			err = queue.Permanent(err)
		}
		return fmt.Errorf("apply %s %s: %w", act.Type, act.ID, err)
	}
	p.Metrics.applied(act.Type)
	return p.Store.MarkInboxProcessed(ctx, stored.ID)
}

// apply applies act; relay is the group's Announce that carried it, if any.
func (p *Processor) apply(ctx context.Context, act *activitypub.Activity, relay *activitypub.Activity) error {
	switch act.Type {
	case "Create":
		return p.create(ctx, act, relay)
	case "Delete":
		return p.delete(ctx, act)
	case "Follow":
		return p.follow(ctx, act)
	case "Accept":
		return p.accept(ctx, act)
	case "Reject":
		return p.reject(ctx, act)
	case "Undo":
		return p.undo(ctx, act)
	case "Update":
		return p.update(ctx, act)
	case "Announce":
		return p.announce(ctx, act)
	case "Like", "EmojiReact":
		return p.like(ctx, act)
	case "Block":
		return p.block(ctx, act)
	default:
		// Stored and acknowledged; later issues give more types meaning.
		p.Logger.Debug("activity type not handled yet", "type", act.Type, "id", act.ID)
		return nil
	}
}

// groupAnnounced returns the activity a group (a Lemmy community, say)
// relays by announcing it embedded, when its id and its actor are on the
// announcing group's host, which signed the delivery. (The group vouches
// for its host's activities, not for another actor's words: Process
// refetches the object of a relayed Create or Update from its origin.)
// Anything else is nil: a plain boost, or an embedded activity from
// another host that only a fetch could confirm.
func groupAnnounced(act *activitypub.Activity) *activitypub.Activity {
	if act.Type != "Announce" {
		return nil
	}
	inner, err := activitypub.EmbeddedActivity(act.Object)
	if err != nil || inner.Type == "Announce" {
		return nil
	}
	if !activitypub.SameHost(inner.ID, act.Actor.ID) || !activitypub.SameHost(inner.Actor.ID, act.Actor.ID) {
		return nil
	}
	return inner
}

func (p *Processor) actor(ctx context.Context, act *activitypub.Activity) (*starling.Account, error) {
	a, err := p.Actors.Actor(ctx, act.Actor.ID, false)
	if err != nil {
		return nil, fmt.Errorf("resolve actor %s: %w", act.Actor.ID, err)
	}
	return a, nil
}

func (p *Processor) create(ctx context.Context, act *activitypub.Activity, relay *activitypub.Activity) error {
	if len(act.Object.Raw) == 0 {
		if act.Object.ID == "" {
			return nil
		}
		// A bare IRI: the object is had from its origin.
		if err := p.refetch(ctx, act); err != nil {
			return err
		}
	}
	var obj activitypub.Object
	if err := json.Unmarshal(act.Object.Raw, &obj); err != nil {
		return queue.Permanent(fmt.Errorf("decode object: %w", err))
	}
	if !activitypub.IsStatusType(obj.Type) || obj.IsPollVote() {
		return nil // stored and acknowledged: ChatMessage, poll votes (a later issue counts them)
	}
	author, err := p.actor(ctx, act)
	if err != nil {
		return err
	}
	if obj.AttributedTo.ID != "" && obj.AttributedTo.ID != author.URI {
		return queue.Permanent(fmt.Errorf("object attributed to %s, not to actor %s", obj.AttributedTo.ID, author.URI))
	}
	if !activitypub.SameHost(obj.ID, author.URI) {
		return queue.Permanent(fmt.Errorf("object %s is not on its author's host", obj.ID))
	}
	st := p.statusOf(&obj, author, act, relay)
	if err := p.addAddressees(ctx, st, &obj, act); err != nil {
		return err
	}
	if err := p.insertStatus(ctx, st); err != nil {
		return err
	}
	if st.InReplyToURI != "" {
		// The reply is committed; its thread's context is best effort and
		// bounded in time, so it neither fails nor long holds the reply.
		cctx, cancel := context.WithTimeout(ctx, p.contextTimeout())
		defer cancel()
		p.fetchContext(cctx, st.InReplyToURI, p.contextDepth()-1)
	}
	return nil
}

// statusOf makes the status of a remote object by author. act is the
// Create that carried it (nil for a fetched object), relay the group's
// Announce that relayed that Create (nil when it came directly).
//
// Everything that reaches clients is cleaned here, before it is stored:
// content with the HTML policy Mastodon applies, the content warning as
// plain text, and links that are not http(s) dropped.
func (p *Processor) statusOf(obj *activitypub.Object, author *starling.Account, act, relay *activitypub.Activity) *starling.Status {
	created, err := time.Parse(time.RFC3339, obj.Published)
	if err != nil || created.After(time.Now().Add(time.Hour)) {
		created = time.Now()
	}
	to, cc := audience(obj, act)
	visibility := federation.VisibilityOf(to, cc, author.FollowersURL)
	if relay != nil && (to.Contains(relay.Actor.ID) || cc.Contains(relay.Actor.ID)) {
		// Addressed to a group (a Lemmy community) that relayed it: the
		// group redistributes it to the addressees of its Announce, so it
		// is as visible as that Announce (public, for Lemmy's communities,
		// whose older posts address the community alone).
		if v := federation.VisibilityOf(relay.To, relay.Cc, ""); rank(v) < rank(visibility) {
			visibility = v
		}
	}
	pol := p.Sanitizer
	fields := obj.StatusFields()
	// An http(s) page on the object's own host, else the object itself,
	// as a profile's url is held (Mastodon's rule).
	url := federation.PageURL(obj.URL.ID, obj.ID)
	replyTo := obj.InReplyTo.ID
	if !isHTTPURL(replyTo) {
		replyTo = ""
	}
	quote := fields.QuoteURI
	if !isHTTPURL(quote) {
		quote = ""
	}
	var mentions, hashtags []string
	for _, m := range fields.Mentions {
		if isHTTPURL(m) {
			mentions = append(mentions, m)
		}
	}
	for _, h := range fields.Hashtags {
		// A hashtag is a name, shown and searched as text.
		if h = pol.Text(h); h != "" && len(h) <= 200 {
			hashtags = append(hashtags, h)
		}
	}
	return &starling.Status{
		ID:           starling.NewID(created),
		URI:          obj.ID,
		URL:          url,
		AccountID:    author.ID,
		Content:      pol.HTML(fields.Content),
		SpoilerText:  pol.Text(fields.Summary),
		Sensitive:    fields.Sensitive,
		Visibility:   visibility,
		InReplyToURI: replyTo,
		CreatedAt:    created,
		QuoteURI:     quote,
		Language:     language(fields.Language),
		Emojis:       emojis(fields.Emojis),
		Mentions:     mentions,
		Hashtags:     hashtags,
		Attachments:  attachments(pol, fields.Media),
	}
}

// maxAttachments bounds what a remote status may show (Mastodon keeps 4;
// others send more, and a client shows what it gets).
const maxAttachments = 16

// attachments are a remote status's media as Starling shows them: by
// their remote URL, with the description as text.
func attachments(pol *sanitize.Policy, list []activitypub.Attachment) []starling.MediaAttachment {
	var out []starling.MediaAttachment
	for i, a := range list {
		if i == maxAttachments {
			break
		}
		url := a.Link()
		mt := strings.ToLower(a.MediaType)
		typ := "unknown"
		switch {
		case strings.HasPrefix(mt, "image/gif"):
			typ = "image"
		case strings.HasPrefix(mt, "image/"), mt == "" && a.Type == "Image":
			typ = "image"
		case strings.HasPrefix(mt, "video/"), mt == "" && a.Type == "Video":
			typ = "video"
		case strings.HasPrefix(mt, "audio/"), mt == "" && a.Type == "Audio":
			typ = "audio"
		}
		m := starling.MediaAttachment{ID: starling.NewID(time.Now()) + int64(i), Type: typ, URL: url, PreviewURL: url, RemoteURL: url,
			Description: pol.Text(a.Name), MIME: mt, Width: max(a.Width, 0), Height: max(a.Height, 0)}
		if len(a.Blurhash) <= 100 && blurhashChars.MatchString(a.Blurhash) {
			m.Blurhash = a.Blurhash
		}
		if len(a.FocalPoint) == 2 && math.Abs(a.FocalPoint[0]) <= 1 && math.Abs(a.FocalPoint[1]) <= 1 {
			m.FocusX, m.FocusY = a.FocalPoint[0], a.FocalPoint[1]
		}
		out = append(out, m)
	}
	return out
}

// blurhashChars is the blurhash alphabet (base 83).
var blurhashChars = regexp.MustCompile(`^[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]*$`)

// languageTag is the shape of a BCP 47 tag, as far as a status needs it.
var languageTag = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8}){0,3}$`)

// language returns the contentMap language if it is a language tag.
func language(l string) string {
	if !languageTag.MatchString(l) {
		return ""
	}
	return l
}

// emojis keeps the custom emojis whose images are http(s) links; the
// decoder already held shortcodes to Mastodon's rule.
func emojis(list []activitypub.Emoji) []starling.Emoji {
	var out []starling.Emoji
	for _, e := range list {
		if isHTTPURL(e.URL) && (e.StaticURL == "" || isHTTPURL(e.StaticURL)) {
			static := e.StaticURL
			if static == "" {
				static = e.URL
			}
			out = append(out, starling.Emoji{Shortcode: e.Shortcode, URL: e.URL, StaticURL: static})
		}
	}
	return out
}

// audience returns the addressees of obj: its own, else those of the
// Create that carried it (act, nil for a fetched object).
func audience(obj *activitypub.Object, act *activitypub.Activity) (to, cc activitypub.IRIs) {
	to, cc = obj.To, obj.Cc
	if len(to) == 0 && len(cc) == 0 && act != nil {
		to, cc = act.To, act.Cc
	}
	return to, cc
}

// maxAddressees bounds the store lookups for a status's addressees.
const maxAddressees = 20

// addAddressees adds the local accounts obj is addressed to to st's
// mentions, as Mastodon does (silent mentions): a message addressed to
// someone here without a Mention tag (Lemmy's private messages) reaches
// them, and a direct status's audience is its addressees.
func (p *Processor) addAddressees(ctx context.Context, st *starling.Status, obj *activitypub.Object, act *activitypub.Activity) error {
	to, cc := audience(obj, act)
	n := 0
	for _, iri := range append(slices.Clone(to), cc...) {
		if activitypub.IsPublic(iri) || slices.Contains(st.Mentions, iri) || !isHTTPURL(iri) {
			continue
		}
		if n++; n > maxAddressees {
			break
		}
		a, err := p.Store.AccountByURI(ctx, iri)
		if errors.Is(err, starling.ErrNotFound) {
			continue // a collection, or someone elsewhere
		}
		if err != nil {
			return fmt.Errorf("addressee %s: %w", iri, err)
		}
		if a.Local() {
			st.Mentions = append(st.Mentions, iri)
		}
	}
	return nil
}

// rank orders visibilities from the widest audience (0) to the narrowest.
func rank(visibility string) int {
	switch visibility {
	case starling.VisibilityPublic:
		return 0
	case starling.VisibilityUnlisted:
		return 1
	case starling.VisibilityPrivate:
		return 2
	}
	return 3
}

// isHTTPURL reports whether s is an absolute http(s) URL, the only links a
// remote status may carry to clients (javascript: and data: may not).
func isHTTPURL(s string) bool {
	_, err := activitypub.HostOf(s)
	return err == nil && sanitize.Valid(s)
}

// insertStatus stores a remote status once, with its timeline event.
func (p *Processor) insertStatus(ctx context.Context, st *starling.Status) error {
	ev, err := p.timelineEvent(ctx, queue.StatusCreated, st.ID)
	if err != nil {
		return err
	}
	if _, err := p.Store.InsertRemoteStatus(ctx, st, ev); err != nil {
		if starling.IsDataError(err) {
			return queue.Permanent(err)
		}
		return err
	}
	return nil
}

func (p *Processor) delete(ctx context.Context, act *activitypub.Activity) error {
	if act.Object.ID == "" {
		return nil
	}
	if act.Object.ID == act.Actor.ID {
		return p.deleteAccount(ctx, act)
	}
	author, err := p.Store.AccountByURI(ctx, act.Actor.ID)
	if errors.Is(err, starling.ErrNotFound) {
		return nil // never heard of them, so nothing of theirs to delete
	}
	if err != nil {
		return err
	}
	return p.tombstone(ctx, act.Object.ID, author.ID)
}

// tombstone deletes the status (or boost) uri of accountID and tells the
// timeline, in one transaction; an unknown uri gets a tombstone, so a late
// Create or Announce cannot bring it back.
func (p *Processor) tombstone(ctx context.Context, uri string, accountID int64) error {
	id, err := p.Store.StatusIDByURI(ctx, uri)
	if err != nil && !errors.Is(err, starling.ErrNotFound) {
		return err
	}
	ev, err := p.timelineEvent(ctx, queue.StatusDeleted, id)
	if err != nil {
		return err
	}
	_, err = p.Store.DeleteRemoteStatus(ctx, uri, accountID, ev)
	return err
}

func (p *Processor) follow(ctx context.Context, act *activitypub.Activity) error {
	target, err := p.Store.AccountByURI(ctx, act.Object.ID)
	if errors.Is(err, starling.ErrNotFound) || (err == nil && !target.Local()) {
		return nil // not one of ours
	}
	if err != nil {
		return err
	}
	follower, err := p.actor(ctx, act)
	if err != nil {
		return err
	}
	f, err := p.Store.UpsertRemoteFollow(ctx, &starling.Follow{
		ID: starling.NewID(time.Now()), FollowerID: follower.ID, FolloweeID: target.ID, URI: act.ID, Accepted: !target.Locked,
	})
	if err != nil {
		return err
	}
	typ := starling.NotifyFollow
	if f.Accepted {
		if err := p.Accepter.AcceptFollow(ctx, target, follower, f); err != nil {
			return err
		}
	} else {
		// Locked: the request waits for the account holder, who answers
		// it with follow_requests/authorize or reject (outbox).
		typ = starling.NotifyFollowRequest
	}
	// A redelivered Follow appends the same notification again; its
	// message id (and the notification's uniqueness) make that a no-op.
	ev, err := p.change(ctx, queue.Notify, typ+"-"+strconv.FormatInt(f.ID, 10), queue.TimelineChange{
		AccountID: target.ID, Type: typ, FromAccountID: follower.ID})
	if err != nil {
		return err
	}
	return p.Store.AppendEvents(ctx, ev)
}

// followOf finds the follow an Accept, Reject or Undo refers to: by the
// Follow's id, or by its actor and object when the remote embedded a Follow
// without an id we know.
func (p *Processor) followOf(ctx context.Context, obj activitypub.Ref) (*starling.Follow, error) {
	if obj.ID != "" {
		f, err := p.Store.FollowByURI(ctx, obj.ID)
		if err == nil || !errors.Is(err, starling.ErrNotFound) {
			return f, err
		}
	}
	if len(obj.Raw) == 0 {
		return nil, starling.ErrNotFound
	}
	var inner activitypub.Object
	if err := json.Unmarshal(obj.Raw, &inner); err != nil || inner.Type != "Follow" {
		return nil, starling.ErrNotFound
	}
	follower, err := p.Store.AccountByURI(ctx, inner.Actor.ID)
	if err != nil {
		return nil, err
	}
	followee, err := p.Store.AccountByURI(ctx, inner.Object.ID)
	if err != nil {
		return nil, err
	}
	return p.Store.FollowBetween(ctx, follower.ID, followee.ID)
}

func (p *Processor) accept(ctx context.Context, act *activitypub.Activity) error {
	f, err := p.followOf(ctx, act.Object)
	if errors.Is(err, starling.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	followee, err := p.Store.AccountByURI(ctx, act.Actor.ID)
	if err != nil || followee.ID != f.FolloweeID {
		return nil // only the followee may accept
	}
	_, err = p.Store.AcceptFollow(ctx, f.ID)
	return err
}

// reject applies a followee's Reject: the follow ends and, in the same
// transaction, the followee's entries leave the (local) follower's feed,
// so a crash between the two cannot keep one without the other.
func (p *Processor) reject(ctx context.Context, act *activitypub.Activity) error {
	f, err := p.followOf(ctx, act.Object)
	if errors.Is(err, starling.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	followee, err := p.Store.AccountByURI(ctx, act.Actor.ID)
	if err != nil || followee.ID != f.FolloweeID {
		return nil // only the followee may reject
	}
	ev, err := p.change(ctx, queue.FeedUnmerge, "reject-"+act.ID, queue.TimelineChange{
		AccountID: f.FollowerID, TargetAccountID: f.FolloweeID})
	if err != nil {
		return err
	}
	_, err = p.Store.DeleteFollow(ctx, f.ID, nil, ev)
	return err
}

// undo undoes the actor's boost, like, block or follow.
func (p *Processor) undo(ctx context.Context, act *activitypub.Activity) error {
	var inner activitypub.Object
	if len(act.Object.Raw) > 0 {
		_ = json.Unmarshal(act.Object.Raw, &inner)
	}
	switch inner.Type {
	case "Announce", "Like", "EmojiReact", "Block":
	default:
		return p.undoFollow(ctx, act)
	}
	who, err := p.Store.AccountByURI(ctx, act.Actor.ID)
	if errors.Is(err, starling.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch inner.Type {
	case "Announce":
		return p.tombstone(ctx, act.Object.ID, who.ID)
	case "Like", "EmojiReact": // a reaction is a favourite (like)
		_, err := p.Store.DeleteFavourite(ctx, 0, act.Object.ID, who.ID, nil)
		return err
	default: // Block
		target, err := p.Store.AccountByURI(ctx, inner.Object.ID)
		if err != nil {
			return nil
		}
		_, err = p.Store.DeleteBlock(ctx, who.ID, target.ID, nil)
		return err
	}
}

func (p *Processor) undoFollow(ctx context.Context, act *activitypub.Activity) error {
	f, err := p.followOf(ctx, act.Object)
	if errors.Is(err, starling.ErrNotFound) {
		return nil // an Undo of something else, or of a follow already gone
	}
	if err != nil {
		return err
	}
	follower, err := p.Store.AccountByURI(ctx, act.Actor.ID)
	if err != nil || follower.ID != f.FollowerID {
		return nil // only the follower may undo
	}
	_, err = p.Store.DeleteFollow(ctx, f.ID, nil)
	return err
}

// update applies an actor's Update of its own profile. Updates of statuses
// (edits) are acknowledged for now.
// statusEditor is what applying a remote edit needs of the store. It is
// declared apart from ProcessStore because only update uses it (issue 9
// added it without touching the rest of the processor); *postgres.DB is one.
type statusEditor interface {
	EditRemoteStatus(ctx context.Context, uri string, accountID int64, s *starling.Status, events ...starling.Event) (bool, error)
}

// update applies an actor's Update of itself (a profile change) or of one
// of its statuses (an edit: content, summary, sensitive, with the history
// kept and edited_at set). Only the status's own author may edit it: the
// stored status must belong to the actor, and the object be attributed to
// it; anything else changes nothing.
func (p *Processor) update(ctx context.Context, act *activitypub.Activity) error {
	if len(act.Object.Raw) == 0 {
		return nil
	}
	if act.Object.ID == act.Actor.ID {
		if _, err := p.Actors.UpdateActor(ctx, act.Actor.ID, act.Object.Raw); err != nil {
			// The document is what it is: retrying will not change it.
			return queue.Permanent(fmt.Errorf("update actor: %w", err))
		}
		return nil
	}
	var obj activitypub.Object
	if err := json.Unmarshal(act.Object.Raw, &obj); err != nil {
		return queue.Permanent(fmt.Errorf("decode object: %w", err))
	}
	if !activitypub.IsStatusType(obj.Type) || obj.IsPollVote() || obj.ID == "" {
		return nil
	}
	editor, ok := p.Store.(statusEditor)
	if !ok {
		return nil
	}
	author, err := p.Store.AccountByURI(ctx, act.Actor.ID)
	if errors.Is(err, starling.ErrNotFound) {
		return nil // never heard of them, so nothing of theirs to edit
	}
	if err != nil {
		return err
	}
	if obj.AttributedTo.ID != "" && obj.AttributedTo.ID != author.URI {
		return queue.Permanent(fmt.Errorf("update of %s attributed to %s, not to actor %s", obj.ID, obj.AttributedTo.ID, author.URI))
	}
	var stamp struct {
		Updated string `json:"updated"`
	}
	_ = json.Unmarshal(act.Object.Raw, &stamp)
	edited, err := time.Parse(time.RFC3339, stamp.Updated)
	if err != nil || edited.After(time.Now().Add(time.Hour)) {
		edited = time.Now()
	}
	// The same cleaning as a Create's: an edit is new content.
	edit := p.statusOf(&obj, author, nil, nil)
	id, err := p.Store.StatusIDByURI(ctx, obj.ID)
	if errors.Is(err, starling.ErrNotFound) {
		return nil // an edit of a status we never had
	}
	if err != nil {
		return err
	}
	ev, err := p.timelineEvent(ctx, queue.StatusUpdated, id)
	if err != nil {
		return err
	}
	// One event per version: a status is edited many times.
	ev.MsgID += "-" + strconv.FormatInt(edited.UnixMilli(), 10)
	// The account must be the stored status's own: EditRemoteStatus looks
	// the status up by URI and account, so another actor's Update of it
	// finds nothing, and an older version than the stored one changes
	// nothing (nor appends the event).
	changed, err := editor.EditRemoteStatus(ctx, obj.ID, author.ID, &starling.Status{
		Content: edit.Content, SpoilerText: edit.SpoilerText, Sensitive: edit.Sensitive,
		Mentions: edit.Mentions, Hashtags: edit.Hashtags, Language: edit.Language, Emojis: edit.Emojis, Attachments: edit.Attachments,
		EditedAt: edited.UTC().Truncate(time.Microsecond)}, ev)
	if err != nil {
		return err
	}
	if !changed {
		p.Logger.Debug("update of an unknown, foreign or older status ignored", "object", obj.ID, "actor", author.URI)
	}
	return nil
}

func (p *Processor) timelineEvent(ctx context.Context, kind string, statusID int64) (starling.Event, error) {
	payload, err := json.Marshal(queue.TimelineEvent{StatusID: statusID})
	if err != nil {
		return starling.Event{}, fmt.Errorf("encode timeline event: %w", err)
	}
	return starling.Event{
		MsgID:   "timeline-" + kind + "-" + strconv.FormatInt(statusID, 10),
		Subject: p.Topology.Subject(queue.Timeline, kind),
		Payload: payload,
		Headers: queue.TraceFrom(ctx).Headers(),
	}, nil
}
