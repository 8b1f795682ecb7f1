package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

// editStatus applies an edit to the locked status id: the first edit also
// records the original version, so the history starts with what was
// posted; then the new version is written and recorded.
func editStatus(ctx context.Context, tx pgx.Tx, id int64, s *starling.Status) error {
	var accountID int64
	var createdAt time.Time
	var editedAt *time.Time
	var content, spoiler string
	var sensitive bool
	err := tx.QueryRow(ctx, `SELECT account_id, created_at, edited_at, content, spoiler_text, sensitive
		FROM statuses WHERE id = $1`, id).Scan(&accountID, &createdAt, &editedAt, &content, &spoiler, &sensitive)
	if err != nil {
		return err
	}
	if editedAt != nil && !s.EditedAt.After(*editedAt) {
		return starling.ErrStaleEdit
	}
	if editedAt == nil {
		if _, err := tx.Exec(ctx, `INSERT INTO status_edits (id, status_id, account_id, content, spoiler_text, sensitive, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, starling.NewID(createdAt), id, accountID, content, spoiler, sensitive, createdAt); err != nil {
			return fmt.Errorf("record original of %d: %w", id, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE statuses SET content = $2, spoiler_text = $3, sensitive = $4, edited_at = $5
		WHERE id = $1`, id, s.Content, s.SpoilerText, s.Sensitive, s.EditedAt); err != nil {
		return fmt.Errorf("edit status %d: %w", id, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO status_edits (id, status_id, account_id, content, spoiler_text, sensitive, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, starling.NewID(s.EditedAt), id, accountID, s.Content, s.SpoilerText, s.Sensitive, s.EditedAt); err != nil {
		return fmt.Errorf("record edit of %d: %w", id, err)
	}
	return nil
}

// EditLocalStatus applies an edit by its author to a live local status
// (s.ID, s.AccountID; the new Content, SpoilerText, Sensitive, SourceText,
// Mentions, Hashtags, MentionIDs; EditedAt), keeping the history, and
// stores the Update activity and its events, in one transaction. Hashtags
// are replaced; mentions are added to (whoever was mentioned keeps access,
// as Mastodon keeps a removed mention silently). ErrNotFound when author
// has no such live status.
func (db *DB) EditLocalStatus(ctx context.Context, s *starling.Status, act *starling.Activity, events ...starling.Event) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM statuses WHERE id = $1 AND account_id = $2 AND local
			AND deleted_at IS NULL AND reblog_of_id IS NULL FOR UPDATE`, s.ID, s.AccountID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return starling.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := editStatus(ctx, tx, id, s); err != nil {
			return err
		}
		mentions, hashtags := s.Mentions, s.Hashtags
		if mentions == nil {
			mentions = []string{}
		}
		if hashtags == nil {
			hashtags = []string{}
		}
		if _, err := tx.Exec(ctx, `UPDATE statuses SET source_text = $2, hashtags = $3,
			mentions = ARRAY(SELECT DISTINCT unnest(mentions || $4::text[])) WHERE id = $1`,
			id, s.SourceText, hashtags, mentions); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM status_tags WHERE status_id = $1`, id); err != nil {
			return err
		}
		if err := indexStatus(ctx, tx, id, s.Hashtags, s.MentionIDs); err != nil {
			return err
		}
		if err := reattachMedia(ctx, tx, s); err != nil {
			return err
		}
		return recordActivity(ctx, tx, act, events)
	})
	if err != nil {
		return fmt.Errorf("edit status %d: %w", s.ID, err)
	}
	return nil
}

// EditRemoteStatus applies a remote author's edit (an Update of a Note) to
// the live status uri of accountID: content, summary, sensitive, mentions
// and hashtags, with the history and edited_at; the events are appended
// with it. It reports false,
// changing nothing, when there is no such live status or the edit is not
// newer than the stored version (a replayed or reordered Update).
func (db *DB) EditRemoteStatus(ctx context.Context, uri string, accountID int64, s *starling.Status, events ...starling.Event) (bool, error) {
	var edited bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM statuses WHERE uri = $1 AND account_id = $2 AND NOT local
			AND deleted_at IS NULL FOR UPDATE`, uri, accountID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := editStatus(ctx, tx, id, s); errors.Is(err, starling.ErrStaleEdit) {
			return nil
		} else if err != nil {
			return err
		}
		s.ID, edited = id, true
		// The tag property is replaced whole, as Mastodon does on an
		// edit; the timeline builder indexes the new version's tags.
		mentions, hashtags := s.Mentions, s.Hashtags
		if mentions == nil {
			mentions = []string{}
		}
		if hashtags == nil {
			hashtags = []string{}
		}
		if _, err := tx.Exec(ctx, `UPDATE statuses SET mentions = $2, hashtags = $3, language = $4, emojis = $5, attachments = $6
			WHERE id = $1`, id, mentions, hashtags, nullIfEmpty(s.Language), emojisOrEmpty(s.Emojis), attachmentsOrEmpty(s.Attachments)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM status_tags WHERE status_id = $1`, id); err != nil {
			return err
		}
		return appendEvents(ctx, tx, events...)
	})
	if err != nil {
		return false, fmt.Errorf("edit remote status %s: %w", uri, err)
	}
	return edited, nil
}

// StatusEdits returns a status's versions, oldest (the original) first;
// none when it was never edited.
func (db *DB) StatusEdits(ctx context.Context, statusID int64) ([]starling.StatusEdit, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, status_id, account_id, content, spoiler_text, sensitive, created_at
		FROM status_edits WHERE status_id = $1 ORDER BY created_at, id`, statusID)
	if err != nil {
		return nil, fmt.Errorf("edits of %d: %w", statusID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (starling.StatusEdit, error) {
		var e starling.StatusEdit
		err := row.Scan(&e.ID, &e.StatusID, &e.AccountID, &e.Content, &e.SpoilerText, &e.Sensitive, &e.CreatedAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("edits of %d: %w", statusID, err)
	}
	return out, nil
}

// StatusSource returns the plain text a local status was written as and
// its content warning; for a status without a stored source, its HTML.
func (db *DB) StatusSource(ctx context.Context, id int64) (text, spoiler string, err error) {
	err = db.pool.QueryRow(ctx, `SELECT coalesce(source_text, content), spoiler_text FROM statuses
		WHERE id = $1 AND deleted_at IS NULL`, id).Scan(&text, &spoiler)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("source of %d: %w", id, starling.ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("source of %d: %w", id, err)
	}
	return text, spoiler, nil
}
