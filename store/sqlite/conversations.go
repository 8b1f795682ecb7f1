package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/starling-social/starling"
)

// AddToConversations records a direct status in the conversations of its
// local participants (its author and the local accounts it mentions): the
// row for the same other participants moves to this status, unread for
// everyone but the author. Statuses that are not direct change nothing;
// applying one twice, or an older one after a newer, changes nothing. It
// returns how many conversations it touched. The participants are a JSON
// array of sorted ids, so equal sets are equal text.
func (db *DB) AddToConversations(ctx context.Context, statusID int64) (int64, error) {
	n, err := db.exec(ctx, `WITH s AS (
			SELECT id, account_id FROM statuses
			WHERE id = ?1 AND visibility = 'direct' AND deleted_at IS NULL AND reblog_of_id IS NULL),
		members AS (
			SELECT account_id AS id FROM s
			UNION SELECT m.account_id FROM status_mentions m JOIN s ON m.status_id = s.id),
		locals AS (
			SELECT m.id FROM members m JOIN accounts a ON a.id = m.id WHERE a.domain IS NULL)
		INSERT INTO conversations AS c (account_id, participants, last_status_id, unread)
		SELECT l.id, (SELECT json_group_array(o.id) FROM (SELECT m.id FROM members m WHERE m.id <> l.id ORDER BY m.id) o),
			s.id, l.id <> s.account_id
		FROM locals l CROSS JOIN s WHERE true
		ON CONFLICT (account_id, participants) DO UPDATE
			SET last_status_id = excluded.last_status_id, unread = excluded.unread
			WHERE c.last_status_id < excluded.last_status_id`, statusID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: add status %d to conversations: %w", statusID, err)
	}
	return n, nil
}

func scanConversation(r scanner) (starling.Conversation, error) {
	var c starling.Conversation
	err := r.Scan(&c.ID, jsonOf(&c.Participants), &c.LastStatusID, &c.Unread)
	return c, err
}

// Conversations returns a page of accountID's conversations, the most
// recently active first, paged by their last status's id as Mastodon
// does. Conversations whose last status is gone are left out.
func (db *DB) Conversations(ctx context.Context, accountID int64, p starling.Page) ([]starling.Conversation, error) {
	if p.Limit <= 0 {
		p.Limit = 20
	}
	order := "DESC"
	where := ``
	args := []any{accountID, p.Limit}
	add := func(cond string, v int64) {
		args = append(args, v)
		where += " AND c.last_status_id " + cond + " ?" + strconv.Itoa(len(args))
	}
	if p.MaxID > 0 {
		add("<", p.MaxID)
	}
	if p.SinceID > 0 {
		add(">", p.SinceID)
	}
	if p.MinID > 0 {
		add(">", p.MinID)
		order = "ASC"
	}
	rows, err := db.read.QueryContext(ctx, `SELECT c.id, c.participants, c.last_status_id, c.unread FROM conversations c
		JOIN statuses s ON s.id = c.last_status_id AND s.deleted_at IS NULL
		WHERE c.account_id = ?1`+where+` ORDER BY c.last_status_id `+order+` LIMIT ?2`, args...)
	out, err := collect(rows, err, scanConversation)
	if err != nil {
		return nil, fmt.Errorf("sqlite: conversations of %d: %w", accountID, err)
	}
	if len(out) == 0 {
		return nil, nil // as store/postgres, which appends to a nil slice
	}
	if order == "ASC" {
		slices.Reverse(out)
	}
	return out, nil
}

// ConversationByID returns one of accountID's conversations.
// starling.ErrNotFound when it has none with that id.
func (db *DB) ConversationByID(ctx context.Context, accountID, id int64) (starling.Conversation, error) {
	c, err := scanConversation(db.read.QueryRowContext(ctx, `SELECT id, participants, last_status_id, unread FROM conversations
		WHERE id = ?1 AND account_id = ?2`, id, accountID))
	if notFound(err) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return starling.Conversation{ID: id}, fmt.Errorf("sqlite: conversation %d: %w", id, err)
	}
	return c, nil
}

// MarkConversationRead marks one of accountID's conversations read.
// starling.ErrNotFound when it has none with that id.
func (db *DB) MarkConversationRead(ctx context.Context, accountID, id int64) error {
	n, err := db.exec(ctx, `UPDATE conversations SET unread = 0 WHERE id = ?1 AND account_id = ?2`, id, accountID)
	if err == nil && n == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: mark conversation %d read: %w", id, err)
	}
	return nil
}

// RemoveConversation removes one of accountID's conversations from its
// list (a later direct status brings it back, as on Mastodon).
// starling.ErrNotFound when it has none with that id.
func (db *DB) RemoveConversation(ctx context.Context, accountID, id int64) error {
	n, err := db.exec(ctx, `DELETE FROM conversations WHERE id = ?1 AND account_id = ?2`, id, accountID)
	if err == nil && n == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: remove conversation %d: %w", id, err)
	}
	return nil
}

// DirectTimeline is accountID's direct statuses: those it wrote and those
// that mention it, newest first.
func (db *DB) DirectTimeline(ctx context.Context, accountID int64, p starling.Page) ([]*starling.Item, error) {
	return db.timeline(starling.WithViewer(ctx, accountID), "direct timeline", `statuses s`,
		`s.visibility = 'direct' AND s.deleted_at IS NULL AND (s.account_id = ?1
			OR EXISTS (SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = ?1))`,
		"s.id", p)
}
