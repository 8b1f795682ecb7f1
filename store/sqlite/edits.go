package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

// editStatus applies an edit to status id within t: the first edit also
// records the original version, so the history starts with what was
// posted; then the new version is written and recorded.
func editStatus(ctx context.Context, t *tx, id int64, s *starling.Status) error {
	var accountID int64
	var createdAt, editedAt time.Time
	var content, spoiler string
	var sensitive bool
	err := t.QueryRowContext(ctx, `SELECT account_id, created_at, edited_at, content, spoiler_text, sensitive
		FROM statuses WHERE id = ?1`, id).Scan(&accountID, ts(&createdAt), ts(&editedAt), &content, &spoiler, &sensitive)
	if err != nil {
		return err
	}
	if !editedAt.IsZero() && !s.EditedAt.After(editedAt) {
		return starling.ErrStaleEdit
	}
	if editedAt.IsZero() {
		if _, err := t.ExecContext(ctx, `INSERT INTO status_edits (id, status_id, account_id, content, spoiler_text, sensitive, created_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`, starling.NewID(createdAt), id, accountID, content, spoiler, sensitive, micro(createdAt)); err != nil {
			return fmt.Errorf("record original of %d: %w", id, err)
		}
	}
	if _, err := t.ExecContext(ctx, `UPDATE statuses SET content = ?2, spoiler_text = ?3, sensitive = ?4, edited_at = ?5
		WHERE id = ?1`, id, s.Content, s.SpoilerText, s.Sensitive, micro(s.EditedAt)); err != nil {
		return fmt.Errorf("edit status %d: %w", id, err)
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO status_edits (id, status_id, account_id, content, spoiler_text, sensitive, created_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`, starling.NewID(s.EditedAt), id, accountID, s.Content, s.SpoilerText, s.Sensitive, micro(s.EditedAt)); err != nil {
		return fmt.Errorf("record edit of %d: %w", id, err)
	}
	return nil
}

// EditLocalStatus applies an edit by its author to a live local status,
// keeping the history, and stores the Update activity and its events, in
// one transaction. Hashtags are replaced; mentions are added to (whoever
// was mentioned keeps access). ErrNotFound when author has no such live
// status.
func (db *DB) EditLocalStatus(ctx context.Context, s *starling.Status, act *starling.Activity, events ...starling.Event) error {
	err := db.inTx(ctx, func(t *tx) error {
		var id int64
		var mentions []string
		err := t.QueryRowContext(ctx, `SELECT id, mentions FROM statuses WHERE id = ?1 AND account_id = ?2 AND local
			AND deleted_at IS NULL AND reblog_of_id IS NULL`, s.ID, s.AccountID).Scan(&id, jsonOf(&mentions))
		if notFound(err) {
			return starling.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := editStatus(ctx, t, id, s); err != nil {
			return err
		}
		for _, m := range s.Mentions {
			if !contains(mentions, m) {
				mentions = append(mentions, m)
			}
		}
		if _, err := t.ExecContext(ctx, `UPDATE statuses SET source_text = ?2, hashtags = ?3, mentions = ?4 WHERE id = ?1`,
			id, s.SourceText, strs(s.Hashtags), strs(mentions)); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, `DELETE FROM status_tags WHERE status_id = ?1`, id); err != nil {
			return err
		}
		if err := indexStatus(ctx, t, id, s.Hashtags, s.MentionIDs); err != nil {
			return err
		}
		if err := reattachMedia(ctx, t, s); err != nil {
			return err
		}
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return fmt.Errorf("sqlite: edit status %d: %w", s.ID, err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// EditRemoteStatus applies a remote author's edit (an Update of a Note) to
// the live status uri of accountID, with the history and edited_at; the
// events are appended with it. It reports false, changing nothing, when
// there is no such live status or the edit is not newer than the stored
// version (a replayed or reordered Update).
func (db *DB) EditRemoteStatus(ctx context.Context, uri string, accountID int64, s *starling.Status, events ...starling.Event) (bool, error) {
	var edited bool
	err := db.inTx(ctx, func(t *tx) error {
		var id int64
		err := t.QueryRowContext(ctx, `SELECT id FROM statuses WHERE uri = ?1 AND account_id = ?2 AND NOT local
			AND deleted_at IS NULL`, uri, accountID).Scan(&id)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := editStatus(ctx, t, id, s); errors.Is(err, starling.ErrStaleEdit) {
			return nil
		} else if err != nil {
			return err
		}
		s.ID, edited = id, true
		// The tag property is replaced whole, as Mastodon does on an edit.
		if _, err := t.ExecContext(ctx, `UPDATE statuses SET mentions = ?2, hashtags = ?3, language = ?4, emojis = ?5, attachments = ?6
			WHERE id = ?1`, id, strs(s.Mentions), strs(s.Hashtags), nullIfEmpty(s.Language), emojisText(s.Emojis),
			attachmentsText(s.Attachments)); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, `DELETE FROM status_tags WHERE status_id = ?1`, id); err != nil {
			return err
		}
		return appendEvents(ctx, t, events...)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: edit remote status %s: %w", uri, err)
	}
	return edited, nil
}

// StatusEdits returns a status's versions, oldest (the original) first;
// none when it was never edited.
func (db *DB) StatusEdits(ctx context.Context, statusID int64) ([]starling.StatusEdit, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, status_id, account_id, content, spoiler_text, sensitive, created_at
		FROM status_edits WHERE status_id = ?1 ORDER BY created_at, id`, statusID)
	out, err := collect(rows, err, func(r scanner) (starling.StatusEdit, error) {
		var e starling.StatusEdit
		err := r.Scan(&e.ID, &e.StatusID, &e.AccountID, &e.Content, &e.SpoilerText, &e.Sensitive, ts(&e.CreatedAt))
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: edits of %d: %w", statusID, err)
	}
	return out, nil
}

// StatusSource returns the plain text a local status was written as and
// its content warning; for a status without a stored source, its HTML.
func (db *DB) StatusSource(ctx context.Context, id int64) (text, spoiler string, err error) {
	err = db.read.QueryRowContext(ctx, `SELECT coalesce(source_text, content), spoiler_text FROM statuses
		WHERE id = ?1 AND deleted_at IS NULL`, id).Scan(&text, &spoiler)
	if notFound(err) {
		return "", "", fmt.Errorf("sqlite: source of %d: %w", id, starling.ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("sqlite: source of %d: %w", id, err)
	}
	return text, spoiler, nil
}
