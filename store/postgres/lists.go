package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

// maxLists is how many lists one account may have, as on Mastodon.
const maxLists = 50

const listColumns = `l.id, l.account_id, l.title, l.replies_policy, l.exclusive`

func scanList(row pgx.CollectableRow) (starling.List, error) {
	var l starling.List
	err := row.Scan(&l.ID, &l.AccountID, &l.Title, &l.RepliesPolicy, &l.Exclusive)
	return l, err
}

// Lists returns owner's lists, oldest first.
func (db *DB) Lists(ctx context.Context, owner int64) ([]starling.List, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+listColumns+` FROM lists l WHERE l.account_id = $1 ORDER BY l.id`, owner)
	if err != nil {
		return nil, fmt.Errorf("lists of %d: %w", owner, err)
	}
	out, err := pgx.CollectRows(rows, scanList)
	if err != nil {
		return nil, fmt.Errorf("lists of %d: %w", owner, err)
	}
	return out, nil
}

// ListByID returns owner's list id; another's list is not found, as it is
// on Mastodon (a list's existence is its owner's business).
func (db *DB) ListByID(ctx context.Context, owner, id int64) (*starling.List, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+listColumns+` FROM lists l WHERE l.id = $1 AND l.account_id = $2`, id, owner)
	if err != nil {
		return nil, fmt.Errorf("list %d: %w", id, err)
	}
	l, err := pgx.CollectExactlyOneRow(rows, scanList)
	if err != nil {
		return nil, fmt.Errorf("list %d: %w", id, notFound(err))
	}
	return &l, nil
}

// notFound maps pgx's no-rows to starling.ErrNotFound.
func notFound(err error) error {
	if err == pgx.ErrNoRows {
		return starling.ErrNotFound
	}
	return err
}

// CreateList stores a new list of l.AccountID and sets l.ID. An account
// has at most 50 lists (EINVALID beyond).
func (db *DB) CreateList(ctx context.Context, l *starling.List) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO lists (account_id, title, replies_policy, exclusive)
		SELECT $1, $2, $3, $4 WHERE (SELECT count(*) FROM lists WHERE account_id = $1) < $5
		RETURNING id`, l.AccountID, l.Title, l.RepliesPolicy, l.Exclusive, maxLists).Scan(&l.ID)
	if err == pgx.ErrNoRows {
		return starling.Errorf(starling.EINVALID, "You have reached the maximum number of lists")
	}
	if err != nil {
		return fmt.Errorf("create list: %w", err)
	}
	return nil
}

// UpdateList saves l's title, replies policy and exclusivity; a list that
// is not l.AccountID's is not found.
func (db *DB) UpdateList(ctx context.Context, l *starling.List) error {
	tag, err := db.pool.Exec(ctx, `UPDATE lists SET title = $3, replies_policy = $4, exclusive = $5
		WHERE id = $1 AND account_id = $2`, l.ID, l.AccountID, l.Title, l.RepliesPolicy, l.Exclusive)
	if err != nil {
		return fmt.Errorf("update list %d: %w", l.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update list %d: %w", l.ID, starling.ErrNotFound)
	}
	return nil
}

// DeleteList deletes owner's list id with its members.
func (db *DB) DeleteList(ctx context.Context, owner, id int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM lists WHERE id = $1 AND account_id = $2`, id, owner)
	if err != nil {
		return fmt.Errorf("delete list %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete list %d: %w", id, starling.ErrNotFound)
	}
	return nil
}

// maxListAccounts bounds a list read whole (Mastodon's limit=0): far
// more than anyone lists, few enough to answer at once.
const maxListAccounts = 5000

// ListAccounts reads a page of a list's members, latest added first; a
// page without a limit reads them all (up to maxListAccounts). The caller
// has checked the list is the viewer's.
func (db *DB) ListAccounts(ctx context.Context, listID int64, p starling.Page) ([]starling.ListedAccount, error) {
	if p.Limit <= 0 {
		p.Limit = maxListAccounts
	}
	return db.listedAccounts(ctx, "list accounts", "x.id",
		`list_accounts x JOIN accounts a ON a.id = x.account_id WHERE x.list_id = $1`, listID, p)
}

// AddListAccounts adds accounts to owner's list, all or none. As
// Mastodon's ListAccount, a member must be followed by the owner (or asked
// to be: a pending follow counts) or be the owner, and must not be a
// member already: EINVALID otherwise.
func (db *DB) AddListAccounts(ctx context.Context, owner, listID int64, accounts []int64) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		var missing, already []int64
		rows, err := tx.Query(ctx, `SELECT x.id,
			NOT (x.id = $2 OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $2 AND f.followee_id = x.id)),
			EXISTS (SELECT 1 FROM list_accounts la WHERE la.list_id = $3 AND la.account_id = x.id)
			FROM unnest($1::bigint[]) AS x(id)`, accounts, owner, listID)
		if err != nil {
			return fmt.Errorf("add to list %d: %w", listID, err)
		}
		var id int64
		var notFollowed, member bool
		_, err = pgx.ForEachRow(rows, []any{&id, &notFollowed, &member}, func() error {
			if notFollowed {
				missing = append(missing, id)
			}
			if member {
				already = append(already, id)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("add to list %d: %w", listID, err)
		}
		if len(missing) > 0 {
			return starling.Errorf(starling.EINVALID, "Account follow relationship missing")
		}
		if len(already) > 0 {
			return starling.Errorf(starling.EINVALID, "Account has already been taken")
		}
		_, err = tx.Exec(ctx, `INSERT INTO list_accounts (list_id, account_id)
			SELECT $1, x.id FROM (SELECT DISTINCT id FROM unnest($2::bigint[]) AS u(id)) x ON CONFLICT DO NOTHING`, listID, accounts)
		if err != nil {
			return fmt.Errorf("add to list %d: %w", listID, err)
		}
		return nil
	})
}

// RemoveListAccounts removes accounts from a list; those not in it are no
// error, as on Mastodon.
func (db *DB) RemoveListAccounts(ctx context.Context, listID int64, accounts []int64) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM list_accounts WHERE list_id = $1 AND account_id = ANY($2)`,
		listID, accounts); err != nil {
		return fmt.Errorf("remove from list %d: %w", listID, err)
	}
	return nil
}

// ListsWithAccount returns those of owner's lists that accountID is in.
func (db *DB) ListsWithAccount(ctx context.Context, owner, accountID int64) ([]starling.List, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+listColumns+` FROM lists l
		JOIN list_accounts la ON la.list_id = l.id AND la.account_id = $2
		WHERE l.account_id = $1 ORDER BY l.id`, owner, accountID)
	if err != nil {
		return nil, fmt.Errorf("lists of %d with %d: %w", owner, accountID, err)
	}
	out, err := pgx.CollectRows(rows, scanList)
	if err != nil {
		return nil, fmt.Errorf("lists of %d with %d: %w", owner, accountID, err)
	}
	return out, nil
}

// ExclusiveListMembers returns the accounts in owner's exclusive lists:
// their posts stay out of owner's home timeline.
func (db *DB) ExclusiveListMembers(ctx context.Context, owner int64) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT la.account_id FROM lists l
		JOIN list_accounts la ON la.list_id = l.id WHERE l.account_id = $1 AND l.exclusive`, owner)
	if err != nil {
		return nil, fmt.Errorf("exclusive list members of %d: %w", owner, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("exclusive list members of %d: %w", owner, err)
	}
	return ids, nil
}

// listMemberWhere selects the members of a list (member, an account id,
// and domain, its lower-cased domain, being SQL expressions) whose
// statuses the list shows: followed by the owner (or the owner), and not
// an account the owner blocks, is blocked by, mutes or whose domain the
// owner blocks. These hold for all of a member's statuses or none.
func listMemberWhere(owner, member, domain string) string {
	return strings.NewReplacer("$owner", owner, "$member", member, "$domain", domain).Replace(`
	($member = $owner OR EXISTS (SELECT 1 FROM follows f
		WHERE f.follower_id = $owner AND f.followee_id = $member AND f.accepted))
	AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.account_id = $owner AND b.target_account_id = $member)
		OR (b.account_id = $member AND b.target_account_id = $owner))
	AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.account_id = $owner AND m.target_account_id = $member)
	AND NOT EXISTS (SELECT 1 FROM domain_blocks d WHERE d.account_id = $owner AND d.domain = $domain)`)
}

// listStatusWhere selects, among a member's statuses s, those the list
// shows: live, visible to the owner; a boost only of a live public or
// unlisted status; a reply only to its own author, to the owner, or as the
// replies policy allows (Mastodon's FeedManager#filter_from_list?; a
// parent that is not known here counts as by someone the owner does not
// follow). owner, list and policy are SQL expressions.
func listStatusWhere(owner, list, policy string) string {
	return strings.NewReplacer("$owner", owner, "$list", list, "$policy", policy).Replace(`s.deleted_at IS NULL
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
			WHERE la.list_id = $list AND la.account_id = p.account_id)))))`)
}

// ListTimeline reads a page of list l's timeline as its owner sees it:
// the statuses and boosts of its members, newest first. Each member's
// page is read by itself, from the statuses_account index until it has a
// page's worth that qualify, and the pages are merged: a plain IN over the
// members would read every status they ever wrote. The bounds and limit
// are the parameters timeline appends after the two given here ($4, $5,
// $6).
func (db *DB) ListTimeline(ctx context.Context, l *starling.List, p starling.Page) ([]*starling.Item, error) {
	order, _, _ := pageBounds(p)
	from := `list_accounts la JOIN accounts ma ON ma.id = la.account_id CROSS JOIN LATERAL (
		SELECT s.* FROM statuses s
		 WHERE s.account_id = la.account_id AND s.id < $4 AND s.id > $5 AND ` + listStatusWhere("$1", "$2", "$3") + `
		 ORDER BY s.id ` + order + ` LIMIT $6) s`
	return db.timeline(starling.WithViewer(ctx, l.AccountID), "list timeline", from,
		`la.list_id = $2 AND `+listMemberWhere("$1", "la.account_id", "lower(ma.domain)"), "s.id", p, l.ID, l.RepliesPolicy)
}

// ListsShowing returns those of lists whose timeline shows statusID (for
// the list streams).
func (db *DB) ListsShowing(ctx context.Context, statusID int64, lists []int64) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT l.id FROM lists l WHERE l.id = ANY($2) AND EXISTS (
		SELECT 1 FROM statuses s JOIN accounts a ON a.id = s.account_id
		  JOIN list_accounts la ON la.list_id = l.id AND la.account_id = s.account_id
		 WHERE s.id = $1 AND `+listStatusWhere("l.account_id", "l.id", "l.replies_policy")+`
		   AND `+listMemberWhere("l.account_id", "s.account_id", "lower(a.domain)")+`)`, statusID, lists)
	if err != nil {
		return nil, fmt.Errorf("lists showing %d: %w", statusID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("lists showing %d: %w", statusID, err)
	}
	return ids, nil
}
