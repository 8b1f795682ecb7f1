package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/starling-social/starling"
)

// maxLists is how many lists one account may have, as on Mastodon.
const maxLists = 50

const listColumns = `l.id, l.account_id, l.title, l.replies_policy, l.exclusive`

func scanList(row scanner) (starling.List, error) {
	var l starling.List
	err := row.Scan(&l.ID, &l.AccountID, &l.Title, &l.RepliesPolicy, &l.Exclusive)
	return l, err
}

// Lists returns owner's lists, oldest first.
func (db *DB) Lists(ctx context.Context, owner int64) ([]starling.List, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+listColumns+` FROM lists l WHERE l.account_id = ?1 ORDER BY l.id`, owner)
	out, err := collect(rows, err, scanList)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lists of %d: %w", owner, err)
	}
	return out, nil
}

// ListByID returns owner's list id; another's list is not found, as it is
// on Mastodon (a list's existence is its owner's business).
func (db *DB) ListByID(ctx context.Context, owner, id int64) (*starling.List, error) {
	l, err := scanList(db.read.QueryRowContext(ctx, `SELECT `+listColumns+` FROM lists l WHERE l.id = ?1 AND l.account_id = ?2`, id, owner))
	if notFound(err) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %d: %w", id, err)
	}
	return &l, nil
}

// CreateList stores a new list of l.AccountID and sets l.ID. An account
// has at most 50 lists (EINVALID beyond).
func (db *DB) CreateList(ctx context.Context, l *starling.List) error {
	err := db.inTx(ctx, func(t *tx) error {
		return t.QueryRowContext(ctx, `INSERT INTO lists (account_id, title, replies_policy, exclusive)
		SELECT ?1, ?2, ?3, ?4 WHERE (SELECT count(*) FROM lists WHERE account_id = ?1) < ?5
		RETURNING id`, l.AccountID, l.Title, l.RepliesPolicy, l.Exclusive, maxLists).Scan(&l.ID)
	})
	if notFound(err) {
		return starling.Errorf(starling.EINVALID, "You have reached the maximum number of lists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create list: %w", err)
	}
	return nil
}

// UpdateList saves l's title, replies policy and exclusivity; a list that
// is not l.AccountID's is not found.
func (db *DB) UpdateList(ctx context.Context, l *starling.List) error {
	n, err := db.exec(ctx, `UPDATE lists SET title = ?3, replies_policy = ?4, exclusive = ?5
		WHERE id = ?1 AND account_id = ?2`, l.ID, l.AccountID, l.Title, l.RepliesPolicy, l.Exclusive)
	if err == nil && n == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: update list %d: %w", l.ID, err)
	}
	return nil
}

// DeleteList deletes owner's list id with its members.
func (db *DB) DeleteList(ctx context.Context, owner, id int64) error {
	n, err := db.exec(ctx, `DELETE FROM lists WHERE id = ?1 AND account_id = ?2`, id, owner)
	if err == nil && n == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete list %d: %w", id, err)
	}
	return nil
}

// maxListAccounts bounds a list read whole (Mastodon's limit=0).
const maxListAccounts = 5000

// ListAccounts reads a page of a list's members, latest added first; a
// page without a limit reads them all (up to maxListAccounts).
func (db *DB) ListAccounts(ctx context.Context, listID int64, p starling.Page) ([]starling.ListedAccount, error) {
	if p.Limit <= 0 {
		p.Limit = maxListAccounts
	}
	return db.listedAccounts(ctx, "list accounts", "x.id",
		`list_accounts x JOIN accounts a ON a.id = x.account_id WHERE x.list_id = ?1`, listID, p)
}

// AddListAccounts adds accounts to owner's list, all or none. A member
// must be followed by the owner (a pending follow counts) or be the owner,
// and must not be a member already: EINVALID otherwise.
func (db *DB) AddListAccounts(ctx context.Context, owner, listID int64, accounts []int64) error {
	err := db.inTx(ctx, func(t *tx) error {
		rows, err := t.QueryContext(ctx, `SELECT x.value,
			NOT (x.value = ?2 OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ?2 AND f.followee_id = x.value)),
			EXISTS (SELECT 1 FROM list_accounts la WHERE la.list_id = ?3 AND la.account_id = x.value)
			FROM json_each(?1) AS x`, ids(accounts), owner, listID)
		type check struct {
			id                  int64
			notFollowed, member bool
		}
		checks, err := collect(rows, err, func(r scanner) (check, error) {
			var c check
			err := r.Scan(&c.id, &c.notFollowed, &c.member)
			return c, err
		})
		if err != nil {
			return err
		}
		for _, c := range checks {
			if c.notFollowed {
				return starling.Errorf(starling.EINVALID, "Account follow relationship missing")
			}
		}
		for _, c := range checks {
			if c.member {
				return starling.Errorf(starling.EINVALID, "Account has already been taken")
			}
		}
		_, err = t.ExecContext(ctx, `INSERT INTO list_accounts (list_id, account_id)
			SELECT DISTINCT ?1, value FROM json_each(?2) WHERE true ON CONFLICT DO NOTHING`, listID, ids(accounts))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: add to list %d: %w", listID, err)
	}
	return nil
}

// RemoveListAccounts removes accounts from a list; those not in it are no
// error, as on Mastodon.
func (db *DB) RemoveListAccounts(ctx context.Context, listID int64, accounts []int64) error {
	if _, err := db.exec(ctx, `DELETE FROM list_accounts WHERE list_id = ?1 AND account_id IN (SELECT value FROM json_each(?2))`,
		listID, ids(accounts)); err != nil {
		return fmt.Errorf("sqlite: remove from list %d: %w", listID, err)
	}
	return nil
}

// ListsWithAccount returns those of owner's lists that accountID is in.
func (db *DB) ListsWithAccount(ctx context.Context, owner, accountID int64) ([]starling.List, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+listColumns+` FROM lists l
		JOIN list_accounts la ON la.list_id = l.id AND la.account_id = ?2
		WHERE l.account_id = ?1 ORDER BY l.id`, owner, accountID)
	out, err := collect(rows, err, scanList)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lists of %d with %d: %w", owner, accountID, err)
	}
	return out, nil
}

// ExclusiveListMembers returns the accounts in owner's exclusive lists:
// their posts stay out of owner's home timeline.
func (db *DB) ExclusiveListMembers(ctx context.Context, owner int64) ([]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT la.account_id FROM lists l
		JOIN list_accounts la ON la.list_id = l.id WHERE l.account_id = ?1 AND l.exclusive`, owner)
	out, err := collect(rows, err, scanInt64)
	if err != nil {
		return nil, fmt.Errorf("sqlite: exclusive list members of %d: %w", owner, err)
	}
	return out, nil
}

// listWhere selects, among statuses s (with author a), those that belong
// in a list, as store/postgres's listWhere (Mastodon's
// FeedManager#filter_from_list?). owner, list and policy are SQL
// expressions.
func listWhere(owner, list, policy string) string {
	return strings.NewReplacer("$owner", owner, "$list", list, "$policy", policy).Replace(`s.deleted_at IS NULL
	AND s.account_id IN (SELECT la.account_id FROM list_accounts la WHERE la.list_id = $list
		AND (la.account_id = $owner OR EXISTS (SELECT 1 FROM follows f
			WHERE f.follower_id = $owner AND f.followee_id = la.account_id AND f.accepted)))
	AND (s.visibility IN ('public', 'unlisted') OR s.account_id = $owner
		OR (s.visibility = 'private' AND EXISTS (SELECT 1 FROM follows f
			WHERE f.follower_id = $owner AND f.followee_id = s.account_id AND f.accepted))
		OR EXISTS (SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = $owner))
	AND (s.reblog_of_id IS NULL OR EXISTS (SELECT 1 FROM statuses o WHERE o.id = s.reblog_of_id
		AND o.deleted_at IS NULL AND o.visibility IN ('public', 'unlisted')))
	AND (s.in_reply_to_uri IS NULL OR EXISTS (SELECT 1 FROM statuses p WHERE p.uri = s.in_reply_to_uri AND (
		p.account_id IN (s.account_id, $owner)
		OR ($policy = 'followed' AND EXISTS (SELECT 1 FROM follows f
			WHERE f.follower_id = $owner AND f.followee_id = p.account_id AND f.accepted))
		OR ($policy = 'list' AND EXISTS (SELECT 1 FROM list_accounts la
			WHERE la.list_id = $list AND la.account_id = p.account_id)))))
	AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.account_id = $owner AND b.target_account_id = s.account_id)
		OR (b.account_id = s.account_id AND b.target_account_id = $owner))
	AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.account_id = $owner AND m.target_account_id = s.account_id)
	AND NOT EXISTS (SELECT 1 FROM domain_blocks d WHERE d.account_id = $owner AND d.domain = lower(a.domain))`)
}

// ListTimeline reads a page of list l's timeline as its owner sees it:
// the statuses and boosts of its members, newest first (see listWhere).
func (db *DB) ListTimeline(ctx context.Context, l *starling.List, p starling.Page) ([]*starling.Item, error) {
	return db.timeline(starling.WithViewer(ctx, l.AccountID), "list timeline", `statuses s`,
		listWhere("?1", "?2", "?3"), "s.id", p, l.ID, l.RepliesPolicy)
}

// ListsShowing returns those of lists whose timeline shows statusID (for
// the list streams).
func (db *DB) ListsShowing(ctx context.Context, statusID int64, lists []int64) ([]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT l.id FROM lists l WHERE l.id IN (SELECT value FROM json_each(?2)) AND EXISTS (
		SELECT 1 FROM statuses s JOIN accounts a ON a.id = s.account_id
		 WHERE s.id = ?1 AND `+listWhere("l.account_id", "l.id", "l.replies_policy")+`)`, statusID, ids(lists))
	out, err := collect(rows, err, scanInt64)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lists showing %d: %w", statusID, err)
	}
	return out, nil
}
