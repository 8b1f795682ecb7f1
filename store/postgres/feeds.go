package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

// fanoutSQL materialises one status into every home feed that should show
// it, in one statement, whatever the number of readers. The rules are
// Mastodon's (FeedManager#filter_from_home?):
//
//   - a local author always gets their own post;
//   - local accepted followers of the author get public, unlisted and
//     followers-only posts; a direct post goes to its local addressees
//     (status_mentions) only;
//   - a reply reaches a reader only if it answers the author, the reader, or
//     an account the reader follows (a parent we do not know counts as
//     someone the reader does not follow), or is a direct post to them: a
//     message addressed to someone is theirs, whatever thread it is in;
//   - a boost is skipped when the boosted status is the reader's own, or is
//     already in the reader's feed as itself or as another boost (the feed
//     is capped, so the whole feed is the recent window);
//   - local accounts following one of the hashtags of a public status (not a
//     boost) get it too, replies included, as Mastodon's
//     FanOutOnWriteService#deliver_to_hashtag_followers! (those who follow
//     the author are served by the first rule, so no reader comes twice);
//   - nobody who blocks or is blocked by, mutes, or blocks the domain of the
//     author (or of a boosted status's author) gets it.
//
// The excluded readers are gathered first from the author's side of the
// relation tables (a handful of rows), so the per-reader check is one hash
// probe and the plan stays a single pass over the author's followers.
const fanoutSQL = `WITH s AS (
	SELECT s.id, s.account_id, s.visibility, s.reblog_of_id,
	       a.domain IS NULL AS author_local,
	       lower(coalesce(a.domain, '')) AS domain,
	       s.in_reply_to_uri IS NOT NULL AS is_reply,
	       p.account_id AS parent_account,
	       o.account_id AS orig_account,
	       lower(coalesce(oa.domain, '')) AS orig_domain
	  FROM statuses s
	  JOIN accounts a ON a.id = s.account_id
	  LEFT JOIN statuses p ON s.in_reply_to_uri IS NOT NULL AND p.uri = s.in_reply_to_uri
	  LEFT JOIN statuses o ON o.id = s.reblog_of_id
	  LEFT JOIN accounts oa ON oa.id = o.account_id
	 WHERE s.id = $1 AND s.deleted_at IS NULL
	   AND (s.reblog_of_id IS NULL OR (o.deleted_at IS NULL AND o.visibility IN ('public', 'unlisted')))
), excluded AS (
	SELECT b.account_id AS reader FROM blocks b JOIN s ON b.target_account_id IN (s.account_id, s.orig_account)
	UNION SELECT b.target_account_id FROM blocks b JOIN s ON b.account_id IN (s.account_id, s.orig_account)
	UNION SELECT m.account_id FROM mutes m JOIN s ON m.target_account_id IN (s.account_id, s.orig_account)
	UNION SELECT d.account_id FROM domain_blocks d JOIN s ON d.domain IN (s.domain, s.orig_domain)
), candidates AS (
	SELECT f.follower_id AS reader, false AS by_tag
	  FROM s JOIN follows f ON f.followee_id = s.account_id AND f.accepted
	  JOIN accounts r ON r.id = f.follower_id AND r.domain IS NULL
	 WHERE s.visibility <> 'direct'
	UNION ALL
	SELECT m.account_id, false
	  FROM s JOIN status_mentions m ON m.status_id = s.id AND m.account_id <> s.account_id
	  JOIN accounts r ON r.id = m.account_id AND r.domain IS NULL
	 WHERE s.visibility = 'direct'
	UNION ALL
	SELECT s.account_id, false FROM s WHERE s.author_local AND s.reblog_of_id IS NOT NULL
	UNION ALL
	SELECT DISTINCT tf.account_id, true
	  FROM s JOIN status_tags t ON t.status_id = s.id
	  JOIN tag_follows tf ON tf.tag = t.tag AND tf.account_id <> s.account_id
	 WHERE s.visibility = 'public' AND s.reblog_of_id IS NULL
	   AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = tf.account_id AND f.followee_id = s.account_id AND f.accepted)
)
INSERT INTO home_feed (account_id, status_id, reblog_of_id)
SELECT s.account_id, s.id, NULL::bigint FROM s WHERE s.author_local AND s.reblog_of_id IS NULL
UNION ALL
SELECT c.reader, s.id, s.reblog_of_id
  FROM candidates c CROSS JOIN s
 WHERE NOT EXISTS (SELECT 1 FROM excluded e WHERE e.reader = c.reader)
   AND (c.by_tag OR NOT s.is_reply OR s.visibility = 'direct' OR s.parent_account = s.account_id OR s.parent_account = c.reader
        OR EXISTS (SELECT 1 FROM follows f2
                    WHERE f2.follower_id = c.reader AND f2.followee_id = s.parent_account AND f2.accepted))
   AND (s.reblog_of_id IS NULL OR (s.orig_account <> c.reader
        AND NOT EXISTS (SELECT 1 FROM home_feed h WHERE h.account_id = c.reader AND h.status_id = s.reblog_of_id)
        AND NOT EXISTS (SELECT 1 FROM home_feed h WHERE h.account_id = c.reader AND h.reblog_of_id = s.reblog_of_id)))`

// AddStatusToFeeds materialises a status into the home feed of every local
// account that should see it (see fanoutSQL for the rules), in one
// set-wise statement. It is idempotent: the status's feed_fanouts marker
// is claimed in the same transaction, so a replayed or concurrent second
// event adds nothing (and returns 0). A deleted status adds nothing. It
// returns the number of feeds the status was added to.
func (db *DB) AddStatusToFeeds(ctx context.Context, statusID int64) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// JIT compilation of this plan costs more than running it (seconds
		// against a fraction of one at 100,000 followers), and the hash of
		// a million followers should stay in memory.
		if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO feed_fanouts (status_id) VALUES ($1) ON CONFLICT DO NOTHING`, statusID)
		if err != nil || tag.RowsAffected() == 0 {
			return err // done before
		}
		if tag, err = tx.Exec(ctx, fanoutSQL, statusID); err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `UPDATE feed_fanouts SET feeds = $2 WHERE status_id = $1`, statusID, n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("add status %d to feeds: %w", statusID, err)
	}
	return n, nil
}

// RemoveStatusFromFeeds deletes a status, and every boost of it, from the
// home feeds that hold them. The feed has no index on status_id (it would
// double the cost of fan-out), so the rows are found from their audience,
// each by primary key: the local followers and the author of the status and
// of each boost, the addressees, and the followers of its hashtags. A follower who left since had the
// rows taken by the unmerge of the unfollow; reads skip deleted statuses
// in any case, and the trimmer removes what is left.
func (db *DB) RemoveStatusFromFeeds(ctx context.Context, statusID int64) (int64, error) {
	tag, err := db.pool.Exec(ctx, `WITH gone AS (
		SELECT id, account_id FROM statuses WHERE id = $1 OR reblog_of_id = $1
	), audience AS (
		SELECT g.id, f.follower_id AS reader FROM gone g JOIN follows f ON f.followee_id = g.account_id
		UNION ALL SELECT g.id, g.account_id FROM gone g
		UNION ALL SELECT m.status_id, m.account_id FROM status_mentions m WHERE m.status_id = $1
		UNION ALL SELECT t.status_id, tf.account_id FROM status_tags t JOIN tag_follows tf ON tf.tag = t.tag
		 WHERE t.status_id = $1
	)
	DELETE FROM home_feed h USING audience a WHERE h.account_id = a.reader AND h.status_id = a.id`, statusID)
	if err != nil {
		return 0, fmt.Errorf("remove status %d from feeds: %w", statusID, err)
	}
	return tag.RowsAffected(), nil
}

// Unmerge removes from accountID's feed what targetID wrote or boosted
// (unfollow), and with reblogs also boosts of targetID's statuses by others
// (block, mute). A non-empty domain removes everything from that domain
// instead (domain block). The feed is capped, so this reads at most the cap.
func (db *DB) Unmerge(ctx context.Context, accountID, targetID int64, domain string, reblogs bool) (int64, error) {
	var q string
	var arg any
	switch {
	case domain != "":
		q, arg = `DELETE FROM home_feed h WHERE h.account_id = $1 AND EXISTS (
			SELECT 1 FROM statuses s JOIN accounts a ON a.id = s.account_id
			 WHERE s.id IN (h.status_id, h.reblog_of_id) AND lower(a.domain) = lower($2))`, domain
	case reblogs:
		q, arg = `DELETE FROM home_feed h WHERE h.account_id = $1 AND EXISTS (
			SELECT 1 FROM statuses s WHERE s.id IN (h.status_id, h.reblog_of_id) AND s.account_id = $2)`, targetID
	default:
		q, arg = `DELETE FROM home_feed h WHERE h.account_id = $1 AND EXISTS (
			SELECT 1 FROM statuses s WHERE s.id = h.status_id AND s.account_id = $2)`, targetID
	}
	tag, err := db.pool.Exec(ctx, q, accountID, arg)
	if err != nil {
		return 0, fmt.Errorf("unmerge %d from feed of %d: %w", targetID, accountID, err)
	}
	return tag.RowsAffected(), nil
}

// RemoveAccountFromFeeds deletes a deleted account's own feed. Its
// statuses and boosts were tombstoned with it, so no read shows them
// from then on, and the trimmer removes their entries from other feeds on
// its next sweep (the follows that would find them went with the account).
func (db *DB) RemoveAccountFromFeeds(ctx context.Context, accountID int64) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM home_feed WHERE account_id = $1`, accountID)
	if err != nil {
		return 0, fmt.Errorf("remove account %d from feeds: %w", accountID, err)
	}
	return tag.RowsAffected(), nil
}

// FeedMembers returns those of accounts whose home feed holds statusID:
// the streaming side asks this once per status for the accounts it serves,
// instead of receiving one message per follower.
func (db *DB) FeedMembers(ctx context.Context, statusID int64, accounts []int64) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT account_id FROM home_feed
		WHERE status_id = $1 AND account_id = ANY($2)`, statusID, accounts)
	if err != nil {
		return nil, fmt.Errorf("feed members of %d: %w", statusID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("feed members of %d: %w", statusID, err)
	}
	return ids, nil
}

// TrimFeeds keeps the newest keep entries of the home feeds of up to batch
// local accounts with ids above after, drops their entries of deleted
// statuses, and returns the last account id
// looked at (0 when the sweep reached the end) and the rows deleted. The
// trimmer calls it in a loop in the background, never on the fan-out path.
func (db *DB) TrimFeeds(ctx context.Context, after int64, batch, keep int) (last, deleted int64, err error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM accounts WHERE domain IS NULL AND id > $1 ORDER BY id LIMIT $2`, after, batch)
	if err != nil {
		return 0, 0, fmt.Errorf("trim feeds: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, 0, fmt.Errorf("trim feeds: %w", err)
	}
	if len(ids) == 0 {
		return 0, 0, nil
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM home_feed h USING (
		SELECT a.id, c.status_id FROM unnest($1::bigint[]) AS a(id)
		 CROSS JOIN LATERAL (SELECT status_id FROM home_feed WHERE account_id = a.id
		                      ORDER BY status_id DESC OFFSET $2 LIMIT 1) c) cut
		WHERE h.account_id = cut.id AND h.status_id <= cut.status_id`, ids, keep)
	if err != nil {
		return 0, 0, fmt.Errorf("trim feeds: %w", err)
	}
	// Entries of deleted statuses (and of boosts of them) that removal by
	// audience did not reach: a deleted account's, say.
	dead, err := db.pool.Exec(ctx, `DELETE FROM home_feed h USING statuses s
		WHERE h.account_id = ANY($1) AND s.id IN (h.status_id, h.reblog_of_id) AND s.deleted_at IS NOT NULL`, ids)
	if err != nil {
		return 0, 0, fmt.Errorf("trim feeds: %w", err)
	}
	last = ids[len(ids)-1]
	if len(ids) < batch {
		last = 0
	}
	return last, tag.RowsAffected() + dead.RowsAffected(), nil
}

// pageBounds turns p into a query's order and exclusive id bounds: with
// min_id the page is read upwards from it (and reversed for display),
// otherwise downwards from max_id.
func pageBounds(p starling.Page) (order string, upper, lower int64) {
	order, lower = "DESC", p.SinceID
	if p.MinID > 0 {
		order, lower = "ASC", p.MinID
	}
	upper = p.MaxID
	if upper <= 0 {
		upper = 1<<63 - 1
	}
	return order, upper, lower
}

const itemColumns = statusColumns + `, coalesce(s.reblog_of_id, 0),
	EXISTS (SELECT 1 FROM favourites fv WHERE fv.account_id = $1 AND fv.status_id = coalesce(s.reblog_of_id, s.id)),
	EXISTS (SELECT 1 FROM statuses rb WHERE rb.account_id = $1 AND rb.reblog_of_id = coalesce(s.reblog_of_id, s.id)
	        AND rb.deleted_at IS NULL), ` + accountColumns

func scanItem(row pgx.CollectableRow) (*starling.Item, error) {
	var s starling.Status
	var a starling.Account
	var it starling.Item
	err := row.Scan(append([]any{&s.ID, &s.URI, &s.URL, &s.AccountID, &s.Local, &s.Content, &s.SpoilerText, &s.Sensitive,
		&s.Visibility, &s.InReplyToURI, &s.CreatedAt, &s.DeletedAt, &s.EditedAt,
		&s.InReplyToID, &s.InReplyToAccountID, &s.Hashtags, &s.SourceText, &s.MentionedAccounts, &s.RepliesCount, &s.ReblogsCount, &s.FavouritesCount, &s.Language, &s.Emojis, &s.Attachments, &it.ReblogOfID, &it.Favourited, &it.Reblogged},
		accountDest(&a)...)...)
	if err != nil {
		return nil, err
	}
	accountScanned(&a)
	a.PrivateKeyPEM = ""
	s.DeletedAt = zeroEpoch(s.DeletedAt)
	s.EditedAt = zeroEpoch(s.EditedAt)
	s.Account = &a
	it.Status = &s
	return &it, nil
}

// timeline runs one page query. from and where select the entries with $1
// the viewer (0 for none); key is the column that orders them (the one its
// index is on, so the bounds reach the index). args continue from $2.
func (db *DB) timeline(ctx context.Context, what, from, where, key string, p starling.Page, args ...any) ([]*starling.Item, error) {
	order, upper, lower := pageBounds(p)
	n := len(args) + 2
	q := `SELECT ` + itemColumns + ` FROM ` + from + ` JOIN accounts a ON a.id = s.account_id
		WHERE ` + where + ` AND ` + key + ` < $` + strconv.Itoa(n) + ` AND ` + key + ` > $` + strconv.Itoa(n+1) + `
		ORDER BY ` + key + ` ` + order + ` LIMIT $` + strconv.Itoa(n+2)
	all := append([]any{0}, args...)
	all = append(all, upper, lower, p.Limit)
	all[0] = starling.ViewerFromContext(ctx)
	rows, err := db.pool.Query(ctx, q, all...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	items, err := pgx.CollectRows(rows, scanItem)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if order == "ASC" {
		slices.Reverse(items) // read oldest first, shown newest first
	}
	if err := db.loadReblogs(ctx, items); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return items, nil
}

// loadReblogs fills the boosted statuses of a page's boosts in one query.
func (db *DB) loadReblogs(ctx context.Context, items []*starling.Item) error {
	var ids []int64
	for _, it := range items {
		if it.ReblogOfID != 0 {
			ids = append(ids, it.ReblogOfID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := db.pool.Query(ctx, statusJoin+` WHERE s.id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("load boosted statuses: %w", err)
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*starling.Status, error) { return scanStatusWithAccount(row) })
	if err != nil {
		return fmt.Errorf("load boosted statuses: %w", err)
	}
	byID := make(map[int64]*starling.Status, len(got))
	for _, s := range got {
		byID[s.ID] = s
	}
	for _, it := range items {
		if it.ReblogOfID != 0 {
			it.Reblog = byID[it.ReblogOfID]
		}
	}
	return nil
}

// viewerFilter leaves out, for the viewer $1 (0: nobody), statuses of
// accounts the viewer blocks, is blocked by, mutes, or whose domain the
// viewer blocks, as Mastodon's public and hashtag timelines do.
const viewerFilter = ` AND ($1 = 0 OR (
	NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.account_id = $1 AND b.target_account_id = s.account_id)
	                                      OR (b.account_id = s.account_id AND b.target_account_id = $1))
	AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.account_id = $1 AND m.target_account_id = s.account_id)
	AND NOT EXISTS (SELECT 1 FROM domain_blocks d WHERE d.account_id = $1 AND d.domain = lower(a.domain))))`

// PublicTimeline reads public statuses (no boosts), newest first: local
// ones only, remote ones only, or both; without what the viewer (see
// WithViewer) blocks or mutes.
func (db *DB) PublicTimeline(ctx context.Context, local, remote bool, p starling.Page) ([]*starling.Item, error) {
	where := `s.visibility = 'public' AND s.deleted_at IS NULL AND s.reblog_of_id IS NULL` + viewerFilter
	switch {
	case local && !remote:
		where += ` AND s.local`
	case remote && !local:
		where += ` AND NOT s.local`
	}
	return db.timeline(ctx, "public timeline", `statuses s`, where, "s.id", p)
}

// TagTimeline reads public statuses carrying tag (lower case, no '#'),
// without what the viewer blocks or mutes.
func (db *DB) TagTimeline(ctx context.Context, tag string, local bool, p starling.Page) ([]*starling.Item, error) {
	where := `t.tag = $2 AND s.visibility = 'public' AND s.deleted_at IS NULL` + viewerFilter
	if local {
		where += ` AND s.local`
	}
	return db.timeline(ctx, "tag timeline", `status_tags t JOIN statuses s ON s.id = t.status_id`, where, "t.status_id", p, tag)
}

// AccountStatuses reads accountID's statuses and boosts as viewer may see
// them: public and unlisted to anyone, followers-only to accepted
// followers and the author, direct to the author and addressees.
func (db *DB) AccountStatuses(ctx context.Context, viewer, accountID int64, p starling.Page) ([]*starling.Item, error) {
	return db.timeline(starling.WithViewer(ctx, viewer), "account statuses", `statuses s`,
		`s.account_id = $2 AND s.deleted_at IS NULL AND (
			s.visibility IN ('public', 'unlisted') OR s.account_id = $1
			OR (s.visibility = 'private' AND EXISTS (SELECT 1 FROM follows f
			      WHERE f.follower_id = $1 AND f.followee_id = s.account_id AND f.accepted))
			OR EXISTS (SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = $1))`,
		"s.id", p, accountID)
}

// ItemByID returns one status as viewer sees it in a timeline (for
// streaming), with its boosted status.
func (db *DB) ItemByID(ctx context.Context, viewer, statusID int64) (*starling.Item, error) {
	items, err := db.timeline(starling.WithViewer(ctx, viewer), "status item", `statuses s`,
		`s.id = $2 AND s.deleted_at IS NULL`, "s.id", starling.Page{Limit: 1}, statusID)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 || (items[0].ReblogOfID != 0 && items[0].Reblog == nil) {
		return nil, fmt.Errorf("status item %d: %w", statusID, starling.ErrNotFound)
	}
	return items[0], nil
}

// CountFeedEntries counts how often statusID stands in accountID's feed (0 or 1).
func (db *DB) CountFeedEntries(ctx context.Context, accountID, statusID int64) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM home_feed WHERE account_id = $1 AND status_id = $2`,
		accountID, statusID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count feed entries: %w", err)
	}
	return n, nil
}

func zeroEpoch[T interface{ Unix() int64 }](t T) T {
	var zero T
	if t.Unix() == 0 {
		return zero
	}
	return t
}

// HomeFeedRefs reads a page of accountID's home feed as ids and the
// viewer's flags only: a backward scan of the feed's primary key and
// nothing else, the cheapest read there is (about 60% of one that also
// joins statuses). The API renders the statuses from its cache and loads
// the others with StatusesByIDs, which leaves deleted ones out; removal
// takes deleted statuses out of feeds, and the API's cache forgets them on
// the delete event.
func (db *DB) HomeFeedRefs(ctx context.Context, accountID int64, p starling.Page) ([]starling.FeedRef, error) {
	order, upper, lower := pageBounds(p)
	rows, err := db.pool.Query(ctx, `SELECT h.status_id, coalesce(h.reblog_of_id, 0),
		EXISTS (SELECT 1 FROM favourites fv WHERE fv.account_id = $1 AND fv.status_id = coalesce(h.reblog_of_id, h.status_id)),
		EXISTS (SELECT 1 FROM statuses rb WHERE rb.account_id = $1 AND rb.reblog_of_id = coalesce(h.reblog_of_id, h.status_id)
		        AND rb.deleted_at IS NULL),
		EXISTS (SELECT 1 FROM bookmarks bm WHERE bm.account_id = $1 AND bm.status_id = coalesce(h.reblog_of_id, h.status_id)),
		EXISTS (SELECT 1 FROM status_pins sp WHERE sp.account_id = $1 AND sp.status_id = coalesce(h.reblog_of_id, h.status_id))
		FROM home_feed h
		WHERE h.account_id = $1 AND h.status_id < $2 AND h.status_id > $3
		ORDER BY h.status_id `+order+` LIMIT $4`, accountID, upper, lower, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("home feed of %d: %w", accountID, err)
	}
	refs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (starling.FeedRef, error) {
		var r starling.FeedRef
		err := row.Scan(&r.ID, &r.ReblogOfID, &r.Favourited, &r.Reblogged, &r.Bookmarked, &r.Pinned)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("home feed of %d: %w", accountID, err)
	}
	if order == "ASC" {
		slices.Reverse(refs)
	}
	return refs, nil
}

// StatusesByIDs loads the live ones of statuses by id, with their authors.
func (db *DB) StatusesByIDs(ctx context.Context, ids []int64) (map[int64]*starling.Status, error) {
	rows, err := db.pool.Query(ctx, statusJoin+` WHERE s.id = ANY($1) AND s.deleted_at IS NULL`, ids)
	if err != nil {
		return nil, fmt.Errorf("statuses by ids: %w", err)
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*starling.Status, error) { return scanStatusWithAccount(row) })
	if err != nil {
		return nil, fmt.Errorf("statuses by ids: %w", err)
	}
	out := make(map[int64]*starling.Status, len(got))
	for _, s := range got {
		out[s.ID] = s
	}
	return out, nil
}
