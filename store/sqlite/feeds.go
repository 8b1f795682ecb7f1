package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/starling-social/starling"
)

// fanoutSQL materialises one status into every home feed that should show
// it, in one statement; the rules are those of store/postgres's fanoutSQL
// (Mastodon's FeedManager#filter_from_home?, and the followers of the
// status's hashtags), which says why each is there.
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
	 WHERE s.id = ?1 AND s.deleted_at IS NULL
	   AND (s.reblog_of_id IS NULL OR (o.deleted_at IS NULL AND o.visibility IN ('public', 'unlisted')))
), excluded AS (
	SELECT b.account_id AS reader FROM blocks b JOIN s ON b.target_account_id IN (s.account_id, s.orig_account)
	UNION SELECT b.target_account_id FROM blocks b JOIN s ON b.account_id IN (s.account_id, s.orig_account)
	UNION SELECT m.account_id FROM mutes m JOIN s ON m.target_account_id IN (s.account_id, s.orig_account)
	UNION SELECT d.account_id FROM domain_blocks d JOIN s ON d.domain IN (s.domain, s.orig_domain)
), candidates AS (
	SELECT f.follower_id AS reader, 0 AS by_tag
	  FROM s JOIN follows f ON f.followee_id = s.account_id AND f.accepted
	  JOIN accounts r ON r.id = f.follower_id AND r.domain IS NULL
	 WHERE s.visibility <> 'direct'
	UNION ALL
	SELECT m.account_id, 0
	  FROM s JOIN status_mentions m ON m.status_id = s.id AND m.account_id <> s.account_id
	  JOIN accounts r ON r.id = m.account_id AND r.domain IS NULL
	 WHERE s.visibility = 'direct'
	UNION ALL
	SELECT s.account_id, 0 FROM s WHERE s.author_local AND s.reblog_of_id IS NOT NULL
	UNION ALL
	SELECT * FROM (SELECT DISTINCT tf.account_id, 1
	  FROM s JOIN status_tags t ON t.status_id = s.id
	  JOIN tag_follows tf ON tf.tag = t.tag AND tf.account_id <> s.account_id
	 WHERE s.visibility = 'public' AND s.reblog_of_id IS NULL
	   AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = tf.account_id AND f.followee_id = s.account_id AND f.accepted))
)
INSERT INTO home_feed (account_id, status_id, reblog_of_id)
SELECT s.account_id, s.id, NULL FROM s WHERE s.author_local AND s.reblog_of_id IS NULL
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
// account that should see it, in one statement. It is idempotent: the
// status's feed_fanouts marker is claimed in the same transaction, so a
// replayed second event adds nothing (and returns 0). A deleted status adds
// nothing. It returns the number of feeds the status was added to.
func (db *DB) AddStatusToFeeds(ctx context.Context, statusID int64) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(t *tx) error {
		claimed, err := affected(t.ExecContext(ctx, `INSERT INTO feed_fanouts (status_id) VALUES (?1) ON CONFLICT DO NOTHING`, statusID))
		if err != nil || claimed == 0 {
			return err // done before
		}
		if n, err = affected(t.ExecContext(ctx, fanoutSQL, statusID)); err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, `UPDATE feed_fanouts SET feeds = ?2 WHERE status_id = ?1`, statusID, n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: add status %d to feeds: %w", statusID, err)
	}
	return n, nil
}

// RemoveStatusFromFeeds deletes a status, and every boost of it, from the
// home feeds that hold them, found from their audience as in store/postgres.
func (db *DB) RemoveStatusFromFeeds(ctx context.Context, statusID int64) (int64, error) {
	n, err := db.exec(ctx, `WITH gone AS (
		SELECT id, account_id FROM statuses WHERE id = ?1 OR reblog_of_id = ?1
	), audience AS (
		SELECT g.id, f.follower_id AS reader FROM gone g JOIN follows f ON f.followee_id = g.account_id
		UNION ALL SELECT g.id, g.account_id FROM gone g
		UNION ALL SELECT m.status_id, m.account_id FROM status_mentions m WHERE m.status_id = ?1
		UNION ALL SELECT t.status_id, tf.account_id FROM status_tags t JOIN tag_follows tf ON tf.tag = t.tag
		 WHERE t.status_id = ?1
	)
	DELETE FROM home_feed WHERE (account_id, status_id) IN (SELECT reader, id FROM audience)`, statusID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: remove status %d from feeds: %w", statusID, err)
	}
	return n, nil
}

// Unmerge removes from accountID's feed what targetID wrote or boosted
// (unfollow), and with reblogs also boosts of targetID's statuses by others
// (block, mute). A non-empty domain removes everything from that domain
// instead (domain block).
func (db *DB) Unmerge(ctx context.Context, accountID, targetID int64, domain string, reblogs bool) (int64, error) {
	var q string
	var arg any
	switch {
	case domain != "":
		q, arg = `DELETE FROM home_feed AS h WHERE h.account_id = ?1 AND EXISTS (
			SELECT 1 FROM statuses s JOIN accounts a ON a.id = s.account_id
			 WHERE s.id IN (h.status_id, h.reblog_of_id) AND lower(a.domain) = lower(?2))`, domain
	case reblogs:
		q, arg = `DELETE FROM home_feed AS h WHERE h.account_id = ?1 AND EXISTS (
			SELECT 1 FROM statuses s WHERE s.id IN (h.status_id, h.reblog_of_id) AND s.account_id = ?2)`, targetID
	default:
		q, arg = `DELETE FROM home_feed AS h WHERE h.account_id = ?1 AND EXISTS (
			SELECT 1 FROM statuses s WHERE s.id = h.status_id AND s.account_id = ?2)`, targetID
	}
	n, err := db.exec(ctx, q, accountID, arg)
	if err != nil {
		return 0, fmt.Errorf("sqlite: unmerge %d from feed of %d: %w", targetID, accountID, err)
	}
	return n, nil
}

// RemoveAccountFromFeeds deletes a deleted account's own feed.
func (db *DB) RemoveAccountFromFeeds(ctx context.Context, accountID int64) (int64, error) {
	n, err := db.exec(ctx, `DELETE FROM home_feed WHERE account_id = ?1`, accountID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: remove account %d from feeds: %w", accountID, err)
	}
	return n, nil
}

// FeedMembers returns those of accounts whose home feed holds statusID.
func (db *DB) FeedMembers(ctx context.Context, statusID int64, accounts []int64) ([]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT account_id FROM home_feed
		WHERE status_id = ?1 AND account_id IN (SELECT value FROM json_each(?2))`, statusID, ids(accounts))
	out, err := collect(rows, err, scanInt64)
	if err != nil {
		return nil, fmt.Errorf("sqlite: feed members of %d: %w", statusID, err)
	}
	return out, nil
}

// TrimFeeds keeps the newest keep entries of the home feeds of up to batch
// local accounts with ids above after, drops their entries of deleted
// statuses, and returns the last account id looked at (0 when the sweep
// reached the end) and the rows deleted.
func (db *DB) TrimFeeds(ctx context.Context, after int64, batch, keep int) (last, deleted int64, err error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id FROM accounts WHERE domain IS NULL AND id > ?1 ORDER BY id LIMIT ?2`, after, batch)
	accounts, err := collect(rows, err, scanInt64)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: trim feeds: %w", err)
	}
	if len(accounts) == 0 {
		return 0, 0, nil
	}
	err = db.inTx(ctx, func(t *tx) error {
		// SQLite has no LATERAL join: one cut per account, each a probe of
		// the primary key, in one transaction.
		for _, id := range accounts {
			n, err := affected(t.ExecContext(ctx, `DELETE FROM home_feed WHERE account_id = ?1 AND status_id <= (
				SELECT status_id FROM home_feed WHERE account_id = ?1 ORDER BY status_id DESC LIMIT 1 OFFSET ?2)`, id, keep))
			if err != nil {
				return err
			}
			deleted += n
		}
		n, err := affected(t.ExecContext(ctx, `DELETE FROM home_feed AS h
			WHERE h.account_id IN (SELECT value FROM json_each(?1)) AND EXISTS (SELECT 1 FROM statuses s
			WHERE s.id IN (h.status_id, h.reblog_of_id) AND s.deleted_at IS NOT NULL)`, ids(accounts)))
		deleted += n
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: trim feeds: %w", err)
	}
	last = accounts[len(accounts)-1]
	if len(accounts) < batch {
		last = 0
	}
	return last, deleted, nil
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
	EXISTS (SELECT 1 FROM favourites fv WHERE fv.account_id = ?1 AND fv.status_id = coalesce(s.reblog_of_id, s.id)),
	EXISTS (SELECT 1 FROM statuses rb WHERE rb.account_id = ?1 AND rb.reblog_of_id = coalesce(s.reblog_of_id, s.id)
	        AND rb.deleted_at IS NULL), ` + accountColumns

func scanItem(row scanner) (*starling.Item, error) {
	var s starling.Status
	var a starling.Account
	var it starling.Item
	dest := append(statusDest(&s), &it.ReblogOfID, &it.Favourited, &it.Reblogged)
	if err := row.Scan(append(dest, accountDest(&a)...)...); err != nil {
		return nil, err
	}
	statusScanned(&s)
	accountScanned(&a)
	s.Account = &a
	it.Status = &s
	return &it, nil
}

// timeline runs one page query. from and where select the entries with ?1
// the viewer (0 for none); key is the column that orders them. args
// continue from ?2.
func (db *DB) timeline(ctx context.Context, what, from, where, key string, p starling.Page, args ...any) ([]*starling.Item, error) {
	order, upper, lower := pageBounds(p)
	n := len(args) + 2
	q := `SELECT ` + itemColumns + ` FROM ` + from + ` JOIN accounts a ON a.id = s.account_id
		WHERE ` + where + ` AND ` + key + ` < ?` + strconv.Itoa(n) + ` AND ` + key + ` > ?` + strconv.Itoa(n+1) + `
		ORDER BY ` + key + ` ` + order + ` LIMIT ?` + strconv.Itoa(n+2)
	all := append([]any{starling.ViewerFromContext(ctx)}, args...)
	all = append(all, upper, lower, p.Limit)
	rows, err := db.read.QueryContext(ctx, q, all...)
	items, err := collect(rows, err, scanItem)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if order == "ASC" {
		slices.Reverse(items) // read oldest first, shown newest first
	}
	if err := db.loadReblogs(ctx, items); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return items, nil
}

// loadReblogs fills the boosted statuses of a page's boosts in one query.
func (db *DB) loadReblogs(ctx context.Context, items []*starling.Item) error {
	var boosted []int64
	for _, it := range items {
		if it.ReblogOfID != 0 {
			boosted = append(boosted, it.ReblogOfID)
		}
	}
	if len(boosted) == 0 {
		return nil
	}
	rows, err := db.read.QueryContext(ctx, statusJoin+` WHERE s.id IN (SELECT value FROM json_each(?1))`, ids(boosted))
	got, err := collect(rows, err, scanStatusWithAccount)
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

// viewerFilter leaves out, for the viewer ?1 (0: nobody), statuses of
// accounts the viewer blocks, is blocked by, mutes, or whose domain the
// viewer blocks, as Mastodon's public and hashtag timelines do.
const viewerFilter = ` AND (?1 = 0 OR (
	NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.account_id = ?1 AND b.target_account_id = s.account_id)
	                                      OR (b.account_id = s.account_id AND b.target_account_id = ?1))
	AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.account_id = ?1 AND m.target_account_id = s.account_id)
	AND NOT EXISTS (SELECT 1 FROM domain_blocks d WHERE d.account_id = ?1 AND d.domain = lower(a.domain))))`

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
	where := `t.tag = ?2 AND s.visibility = 'public' AND s.deleted_at IS NULL` + viewerFilter
	if local {
		where += ` AND s.local`
	}
	return db.timeline(ctx, "tag timeline", `status_tags t JOIN statuses s ON s.id = t.status_id`, where, "t.status_id", p, tag)
}

// AccountStatuses reads accountID's statuses and boosts as viewer may see
// them: public and unlisted to anyone, followers-only to accepted
// followers and the author, direct to the author and addressees.
func (db *DB) AccountStatuses(ctx context.Context, viewer, accountID int64, p starling.Page) ([]*starling.Item, error) {
	return db.timeline(starling.WithViewer(ctx, viewer), "account statuses", `statuses s`, accountStatusesWhere, "s.id", p, accountID)
}

// ItemByID returns one status as viewer sees it in a timeline (for
// streaming), with its boosted status.
func (db *DB) ItemByID(ctx context.Context, viewer, statusID int64) (*starling.Item, error) {
	items, err := db.timeline(starling.WithViewer(ctx, viewer), "status item", `statuses s`,
		`s.id = ?2 AND s.deleted_at IS NULL`, "s.id", starling.Page{Limit: 1}, statusID)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 || (items[0].ReblogOfID != 0 && items[0].Reblog == nil) {
		return nil, fmt.Errorf("sqlite: status item %d: %w", statusID, starling.ErrNotFound)
	}
	return items[0], nil
}

// CountFeedEntries counts how often statusID stands in accountID's feed (0 or 1).
func (db *DB) CountFeedEntries(ctx context.Context, accountID, statusID int64) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM home_feed WHERE account_id = ?1 AND status_id = ?2`,
		accountID, statusID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count feed entries: %w", err)
	}
	return n, nil
}

// HomeFeedRefs reads a page of accountID's home feed as ids and the
// viewer's flags only; the API renders the statuses from its cache and
// loads the others with StatusesByIDs.
func (db *DB) HomeFeedRefs(ctx context.Context, accountID int64, p starling.Page) ([]starling.FeedRef, error) {
	order, upper, lower := pageBounds(p)
	rows, err := db.read.QueryContext(ctx, `SELECT h.status_id, coalesce(h.reblog_of_id, 0),
		EXISTS (SELECT 1 FROM favourites fv WHERE fv.account_id = ?1 AND fv.status_id = coalesce(h.reblog_of_id, h.status_id)),
		EXISTS (SELECT 1 FROM statuses rb WHERE rb.account_id = ?1 AND rb.reblog_of_id = coalesce(h.reblog_of_id, h.status_id)
		        AND rb.deleted_at IS NULL),
		EXISTS (SELECT 1 FROM bookmarks bm WHERE bm.account_id = ?1 AND bm.status_id = coalesce(h.reblog_of_id, h.status_id)),
		EXISTS (SELECT 1 FROM status_pins sp WHERE sp.account_id = ?1 AND sp.status_id = coalesce(h.reblog_of_id, h.status_id))
		FROM home_feed h
		WHERE h.account_id = ?1 AND h.status_id < ?2 AND h.status_id > ?3
		ORDER BY h.status_id `+order+` LIMIT ?4`, accountID, upper, lower, p.Limit)
	refs, err := collect(rows, err, func(row scanner) (starling.FeedRef, error) {
		var r starling.FeedRef
		err := row.Scan(&r.ID, &r.ReblogOfID, &r.Favourited, &r.Reblogged, &r.Bookmarked, &r.Pinned)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: home feed of %d: %w", accountID, err)
	}
	if order == "ASC" {
		slices.Reverse(refs)
	}
	return refs, nil
}

// StatusesByIDs loads the live ones of statuses by id, with their authors.
func (db *DB) StatusesByIDs(ctx context.Context, statusIDs []int64) (map[int64]*starling.Status, error) {
	rows, err := db.read.QueryContext(ctx, statusJoin+` WHERE s.id IN (SELECT value FROM json_each(?1)) AND s.deleted_at IS NULL`, ids(statusIDs))
	got, err := collect(rows, err, scanStatusWithAccount)
	if err != nil {
		return nil, fmt.Errorf("sqlite: statuses by ids: %w", err)
	}
	out := make(map[int64]*starling.Status, len(got))
	for _, s := range got {
		out[s.ID] = s
	}
	return out, nil
}
