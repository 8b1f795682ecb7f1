package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/starling-social/starling"
)

// FollowTag makes accountID follow the hashtag name (matched case-
// insensitively); following it again changes nothing.
func (db *DB) FollowTag(ctx context.Context, accountID int64, name string) error {
	if _, err := db.exec(ctx, `INSERT INTO tag_follows (account_id, tag, name) VALUES (?1, ?2, ?3)
		ON CONFLICT DO NOTHING`, accountID, strings.ToLower(name), name); err != nil {
		return fmt.Errorf("sqlite: follow tag %q: %w", name, err)
	}
	return nil
}

// UnfollowTag stops accountID following a hashtag; not following it is no
// error. What the tag brought into the home feed stays, as on Mastodon.
func (db *DB) UnfollowTag(ctx context.Context, accountID int64, name string) error {
	if _, err := db.exec(ctx, `DELETE FROM tag_follows WHERE account_id = ?1 AND tag = ?2`,
		accountID, strings.ToLower(name)); err != nil {
		return fmt.Errorf("sqlite: unfollow tag %q: %w", name, err)
	}
	return nil
}

// FollowsTag reports whether accountID follows the hashtag name.
func (db *DB) FollowsTag(ctx context.Context, accountID int64, name string) (bool, error) {
	var ok bool
	err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tag_follows WHERE account_id = ?1 AND tag = ?2)`,
		accountID, strings.ToLower(name)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("sqlite: follows tag %q: %w", name, err)
	}
	return ok, nil
}

// FollowedTags reads a page of the hashtags accountID follows, the latest
// followed first.
func (db *DB) FollowedTags(ctx context.Context, accountID int64, p starling.Page) ([]starling.FollowedTag, error) {
	order, upper, lower := pageBounds(p)
	rows, err := db.read.QueryContext(ctx, `SELECT id, name FROM tag_follows WHERE account_id = ?1 AND id < ?2 AND id > ?3
		ORDER BY id `+order+` LIMIT ?4`, accountID, upper, lower, p.Limit)
	out, err := collect(rows, err, func(r scanner) (starling.FollowedTag, error) {
		var t starling.FollowedTag
		err := r.Scan(&t.Cursor, &t.Name)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: followed tags of %d: %w", accountID, err)
	}
	if order == "ASC" {
		slices.Reverse(out)
	}
	return out, nil
}
