package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/starling-social/starling"
)

// accountListSQL returns, for a list, the cursor column and the FROM and
// WHERE of the listed accounts, with ?1 the owner of the list.
func accountListSQL(list starling.AccountList) (cursor, from string, ok bool) {
	switch list {
	case starling.ListFollowers:
		return "x.id", `follows x JOIN accounts a ON a.id = x.follower_id WHERE x.followee_id = ?1 AND x.accepted`, true
	case starling.ListFollowing:
		return "x.id", `follows x JOIN accounts a ON a.id = x.followee_id WHERE x.follower_id = ?1 AND x.accepted`, true
	case starling.ListBlocks:
		return "a.id", `blocks x JOIN accounts a ON a.id = x.target_account_id WHERE x.account_id = ?1`, true
	case starling.ListMutes:
		return "a.id", `mutes x JOIN accounts a ON a.id = x.target_account_id WHERE x.account_id = ?1`, true
	case starling.ListFollowRequests:
		return "x.id", `follows x JOIN accounts a ON a.id = x.follower_id
		JOIN accounts me ON me.id = x.followee_id AND me.locked WHERE x.followee_id = ?1 AND NOT x.accepted`, true
	}
	return "", "", false
}

// AccountList reads a page of one of accountID's lists of accounts,
// newest first.
func (db *DB) AccountList(ctx context.Context, list starling.AccountList, accountID int64, p starling.Page) ([]starling.ListedAccount, error) {
	cursor, from, ok := accountListSQL(list)
	if !ok {
		return nil, fmt.Errorf("sqlite: account list %q: %w", list, starling.ErrNotFound)
	}
	return db.listedAccounts(ctx, "account list "+string(list), cursor, from, accountID, p)
}

// listedAccounts reads a page of the accounts from selects (with ?1 arg),
// ordered by the cursor column, newest first.
func (db *DB) listedAccounts(ctx context.Context, what, cursor, from string, arg int64, p starling.Page) ([]starling.ListedAccount, error) {
	order, upper, lower := pageBounds(p)
	rows, err := db.read.QueryContext(ctx, `SELECT `+cursor+`, `+accountColumns+` FROM `+from+`
		AND `+cursor+` < ?2 AND `+cursor+` > ?3 ORDER BY `+cursor+` `+order+` LIMIT ?4`,
		arg, upper, lower, p.Limit)
	out, err := collect(rows, err, func(row scanner) (starling.ListedAccount, error) {
		var a starling.Account
		var e starling.ListedAccount
		if err := row.Scan(append([]any{&e.Cursor}, accountDest(&a)...)...); err != nil {
			return e, err
		}
		accountScanned(&a)
		e.Account = &a
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if order == "ASC" {
		slices.Reverse(out)
	}
	return out, nil
}

// SearchAccounts finds up to limit accounts whose username or display
// name starts with q (case-insensitively), local ones first; with
// following, only those viewer follows.
func (db *DB) SearchAccounts(ctx context.Context, viewer int64, q string, following bool, offset, limit int) ([]*starling.Account, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts a
		WHERE (lower(a.username) LIKE ?1 || '%' ESCAPE '\' OR lower(a.display_name) LIKE ?1 || '%' ESCAPE '\')
		  AND (NOT ?2 OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ?3 AND f.followee_id = a.id AND f.accepted))
		ORDER BY a.domain IS NOT NULL, a.username, a.id LIMIT ?5 OFFSET ?4`,
		likePrefix(q), following, viewer, offset, limit)
	out, err := collect(rows, err, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search accounts: %w", err)
	}
	return out, nil
}

// likePrefix lower-cases q and escapes LIKE's wildcards.
func likePrefix(q string) string {
	out := make([]rune, 0, len(q))
	for _, r := range q {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return strings.ToLower(string(out))
}

// FilteredAccountStatuses reads accountID's statuses as viewer may see
// them (as AccountStatuses), narrowed by f.
func (db *DB) FilteredAccountStatuses(ctx context.Context, viewer, accountID int64, f starling.StatusFilter, p starling.Page) ([]*starling.Item, error) {
	if f.OnlyMedia {
		return nil, nil // Starling stores no media
	}
	from, where := `statuses s`, accountStatusesWhere
	args := []any{accountID}
	if f.Pinned {
		from = `status_pins sp JOIN statuses s ON s.id = sp.status_id AND sp.account_id = s.account_id`
	}
	if f.ExcludeReplies {
		// Mastodon keeps self-replies (threads) in.
		where += ` AND (s.in_reply_to_uri IS NULL OR EXISTS (SELECT 1 FROM statuses pr
			WHERE pr.uri = s.in_reply_to_uri AND pr.account_id = s.account_id))`
	}
	if f.ExcludeReblogs {
		where += ` AND s.reblog_of_id IS NULL`
	}
	if f.Tagged != "" {
		args = append(args, f.Tagged)
		where += ` AND EXISTS (SELECT 1 FROM status_tags t WHERE t.status_id = s.id AND t.tag = ?3)`
	}
	return db.timeline(starling.WithViewer(ctx, viewer), "account statuses", from, where, "s.id", p, args...)
}

const accountStatusesWhere = `s.account_id = ?2 AND s.deleted_at IS NULL AND (
	s.visibility IN ('public', 'unlisted') OR s.account_id = ?1
	OR (s.visibility = 'private' AND EXISTS (SELECT 1 FROM follows f
	      WHERE f.follower_id = ?1 AND f.followee_id = s.account_id AND f.accepted))
	OR EXISTS (SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = ?1))`
