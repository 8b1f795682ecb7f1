package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/starling-social/starling"
)

// AddToConversations records a direct status in the conversations of its
// local participants (its author and the local accounts it mentions): the
// row for the same other participants moves to this status, unread for
// everyone but the author. Statuses that are not direct change nothing;
// applying one twice, or an older one after a newer, changes nothing.
// It returns how many conversations it touched.
func (db *DB) AddToConversations(ctx context.Context, statusID int64) (int64, error) {
	tag, err := db.pool.Exec(ctx, `WITH s AS (
			SELECT id, account_id FROM statuses
			WHERE id = $1 AND visibility = 'direct' AND deleted_at IS NULL AND reblog_of_id IS NULL),
		members AS (
			SELECT account_id AS id FROM s
			UNION SELECT m.account_id FROM status_mentions m JOIN s ON m.status_id = s.id),
		locals AS (
			SELECT m.id FROM members m JOIN accounts a ON a.id = m.id WHERE a.domain IS NULL)
		INSERT INTO conversations AS c (account_id, participants, last_status_id, unread)
		SELECT l.id, ARRAY(SELECT m.id FROM members m WHERE m.id <> l.id ORDER BY m.id), s.id, l.id <> s.account_id
		FROM locals l CROSS JOIN s
		ON CONFLICT (account_id, participants) DO UPDATE
			SET last_status_id = EXCLUDED.last_status_id, unread = EXCLUDED.unread
			WHERE c.last_status_id < EXCLUDED.last_status_id`, statusID)
	if err != nil {
		return 0, fmt.Errorf("add status %d to conversations: %w", statusID, err)
	}
	return tag.RowsAffected(), nil
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
	if p.MaxID > 0 {
		args = append(args, p.MaxID)
		where += fmt.Sprintf(" AND c.last_status_id < $%d", len(args))
	}
	if p.SinceID > 0 {
		args = append(args, p.SinceID)
		where += fmt.Sprintf(" AND c.last_status_id > $%d", len(args))
	}
	if p.MinID > 0 {
		args = append(args, p.MinID)
		where += fmt.Sprintf(" AND c.last_status_id > $%d", len(args))
		order = "ASC"
	}
	rows, err := db.pool.Query(ctx, `SELECT c.id, c.participants, c.last_status_id, c.unread FROM conversations c
		JOIN statuses s ON s.id = c.last_status_id AND s.deleted_at IS NULL
		WHERE c.account_id = $1`+where+` ORDER BY c.last_status_id `+order+` LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("conversations of %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []starling.Conversation
	for rows.Next() {
		var c starling.Conversation
		if err := rows.Scan(&c.ID, &c.Participants, &c.LastStatusID, &c.Unread); err != nil {
			return nil, fmt.Errorf("conversations of %d: %w", accountID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("conversations of %d: %w", accountID, err)
	}
	if order == "ASC" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// ConversationByID returns one of accountID's conversations.
// starling.ErrNotFound when it has none with that id.
func (db *DB) ConversationByID(ctx context.Context, accountID, id int64) (starling.Conversation, error) {
	c := starling.Conversation{ID: id}
	err := db.pool.QueryRow(ctx, `SELECT participants, last_status_id, unread FROM conversations
		WHERE id = $1 AND account_id = $2`, id, accountID).Scan(&c.Participants, &c.LastStatusID, &c.Unread)
	if errors.Is(err, pgx.ErrNoRows) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("conversation %d: %w", id, err)
	}
	return c, nil
}

// MarkConversationRead marks one of accountID's conversations read.
// starling.ErrNotFound when it has none with that id.
func (db *DB) MarkConversationRead(ctx context.Context, accountID, id int64) error {
	tag, err := db.pool.Exec(ctx, `UPDATE conversations SET unread = false WHERE id = $1 AND account_id = $2`, id, accountID)
	if err == nil && tag.RowsAffected() == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("mark conversation %d read: %w", id, err)
	}
	return nil
}

// RemoveConversation removes one of accountID's conversations from its
// list (a later direct status brings it back, as on Mastodon).
// starling.ErrNotFound when it has none with that id.
func (db *DB) RemoveConversation(ctx context.Context, accountID, id int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM conversations WHERE id = $1 AND account_id = $2`, id, accountID)
	if err == nil && tag.RowsAffected() == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("remove conversation %d: %w", id, err)
	}
	return nil
}

// DirectTimeline is accountID's direct statuses: those it wrote and those
// that mention it, newest first.
func (db *DB) DirectTimeline(ctx context.Context, accountID int64, p starling.Page) ([]*starling.Item, error) {
	return db.timeline(starling.WithViewer(ctx, accountID), "direct timeline", `statuses s`,
		`s.visibility = 'direct' AND s.deleted_at IS NULL AND (s.account_id = $1
			OR EXISTS (SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = $1))`,
		"s.id", p)
}
