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

// UnfollowTag stops accountID following a hashtag (not following it is no
// error) and takes out of its home feed what only the tag brought, as
// Mastodon's FeedManager#unmerge_tag_from_home: the statuses carrying it
// that are not by an account it follows, not its own, not addressed to it,
// and carry no other hashtag it still follows.
func (db *DB) UnfollowTag(ctx context.Context, accountID int64, name string) error {
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `DELETE FROM tag_follows WHERE account_id = ?1 AND tag = ?2`, accountID, strings.ToLower(name)))
		if err != nil || n == 0 {
			return err
		}
		_, err = t.ExecContext(ctx, `DELETE FROM home_feed AS h
			WHERE h.account_id = ?1 AND EXISTS (SELECT 1 FROM status_tags t JOIN statuses s ON s.id = t.status_id
			 WHERE t.tag = ?2 AND t.status_id = h.status_id
			   AND s.account_id <> ?1
			   AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ?1 AND f.followee_id = s.account_id AND f.accepted)
			   AND NOT EXISTS (SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = ?1)
			   AND NOT EXISTS (SELECT 1 FROM status_tags t2 JOIN tag_follows tf ON tf.tag = t2.tag AND tf.account_id = ?1
			                    WHERE t2.status_id = s.id))`, accountID, strings.ToLower(name))
		return err
	})
	if err != nil {
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
