package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

const mediaColumns = `id, account_id, coalesce(status_id, 0), type, state, mime, coalesce(file_key, ''), coalesce(small_key, ''),
	coalesce(remote_url, ''), description, focus_x, focus_y, width, height, small_width, small_height, blurhash, created_at`

func scanMedia(row scanner) (*starling.MediaAttachment, error) {
	var m starling.MediaAttachment
	err := row.Scan(&m.ID, &m.AccountID, &m.StatusID, &m.Type, &m.State, &m.MIME, &m.FileKey, &m.SmallKey,
		&m.RemoteURL, &m.Description, &m.FocusX, &m.FocusY, &m.Width, &m.Height, &m.SmallWidth, &m.SmallHeight, &m.Blurhash, ts(&m.CreatedAt))
	if notFound(err) {
		return nil, starling.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// attachmentsText is a status's pictures as the attachments column takes
// them: a JSON array, never null.
func attachmentsText(a []starling.MediaAttachment) string {
	if a == nil {
		return "[]"
	}
	return jsonText(a)
}

// CreateMedia stores a new upload, processing.
func (db *DB) CreateMedia(ctx context.Context, m *starling.MediaAttachment) error {
	_, err := db.exec(ctx, `INSERT INTO media_attachments (id, account_id, type, state, mime, description, focus_x, focus_y)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`, m.ID, m.AccountID, m.Type, m.State, m.MIME, m.Description, m.FocusX, m.FocusY)
	if err != nil {
		return fmt.Errorf("sqlite: create media %d: %w", m.ID, err)
	}
	return nil
}

// FinishMedia records the outcome of processing: the files, sizes and
// blurhash, and the state (ready or failed).
func (db *DB) FinishMedia(ctx context.Context, m *starling.MediaAttachment) error {
	_, err := db.exec(ctx, `UPDATE media_attachments SET state = ?2, mime = ?3, file_key = ?4, small_key = ?5,
		width = ?6, height = ?7, small_width = ?8, small_height = ?9, blurhash = ?10 WHERE id = ?1`,
		m.ID, m.State, m.MIME, nullIfEmpty(m.FileKey), nullIfEmpty(m.SmallKey), m.Width, m.Height, m.SmallWidth, m.SmallHeight, m.Blurhash)
	if err != nil {
		return fmt.Errorf("sqlite: finish media %d: %w", m.ID, err)
	}
	return nil
}

// MediaByID returns accountID's upload id. starling.ErrNotFound when the
// account has none with that id.
func (db *DB) MediaByID(ctx context.Context, accountID, id int64) (*starling.MediaAttachment, error) {
	m, err := scanMedia(db.read.QueryRowContext(ctx, `SELECT `+mediaColumns+` FROM media_attachments
		WHERE id = ?1 AND account_id = ?2`, id, accountID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: media %d: %w", id, err)
	}
	return m, nil
}

// DescribeMedia sets an upload's description and focal point.
// starling.ErrNotFound when accountID has no such upload.
func (db *DB) DescribeMedia(ctx context.Context, accountID, id int64, description string, x, y float64) error {
	n, err := db.exec(ctx, `UPDATE media_attachments SET description = ?3, focus_x = ?4, focus_y = ?5
		WHERE id = ?1 AND account_id = ?2`, id, accountID, description, x, y)
	if err == nil && n == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: describe media %d: %w", id, err)
	}
	return nil
}

// attachMedia gives a new local status its uploads. Every one must be the
// author's, processed and not yet attached: EINVALID otherwise, and the
// status is not stored.
func attachMedia(ctx context.Context, t *tx, s *starling.Status) error {
	if len(s.Attachments) == 0 {
		return nil
	}
	media := make([]int64, len(s.Attachments))
	for i, m := range s.Attachments {
		media[i] = m.ID
	}
	n, err := affected(t.ExecContext(ctx, `UPDATE media_attachments SET status_id = ?1
		WHERE id IN (SELECT value FROM json_each(?2)) AND account_id = ?3 AND status_id IS NULL AND state = 'ready'`,
		s.ID, ids(media), s.AccountID))
	if err != nil {
		return fmt.Errorf("attach media: %w", err)
	}
	if int(n) != len(media) {
		return starling.Errorf(starling.EINVALID, "Validation failed: media attachments are not yours, not processed yet, or attached already")
	}
	return nil
}

// reattachMedia gives an edited local status exactly its new pictures:
// those it no longer shows are let go (and swept a day later, as never
// attached), new ones are attached (the author's, processed, free:
// EINVALID otherwise).
func reattachMedia(ctx context.Context, t *tx, s *starling.Status) error {
	media := make([]int64, len(s.Attachments))
	for i, m := range s.Attachments {
		media[i] = m.ID
	}
	if _, err := t.ExecContext(ctx, `UPDATE media_attachments SET status_id = NULL, created_at = ?3
		WHERE status_id = ?1 AND id NOT IN (SELECT value FROM json_each(?2))`, s.ID, ids(media), nowMicro()); err != nil {
		return fmt.Errorf("detach media: %w", err)
	}
	n, err := affected(t.ExecContext(ctx, `UPDATE media_attachments SET status_id = ?1
		WHERE id IN (SELECT value FROM json_each(?2)) AND account_id = ?3 AND (status_id IS NULL OR status_id = ?1) AND state = 'ready'`,
		s.ID, ids(media), s.AccountID))
	if err != nil {
		return fmt.Errorf("attach media: %w", err)
	}
	if int(n) != len(media) {
		return starling.Errorf(starling.EINVALID, "Validation failed: media attachments are not yours, not processed yet, or on another status")
	}
	if _, err := t.ExecContext(ctx, `UPDATE statuses SET attachments = ?2 WHERE id = ?1`, s.ID, attachmentsText(s.Attachments)); err != nil {
		return fmt.Errorf("edit attachments: %w", err)
	}
	return nil
}

// SweepableMedia returns up to limit local files no status needs: uploads
// never attached and made before cutoff, and the pictures of deleted
// statuses.
func (db *DB) SweepableMedia(ctx context.Context, cutoff time.Time, limit int) ([]*starling.MediaAttachment, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+mediaColumns+` FROM media_attachments m
		WHERE (m.status_id IS NULL AND m.created_at < ?1)
		   OR EXISTS (SELECT 1 FROM statuses s WHERE s.id = m.status_id AND s.deleted_at IS NOT NULL)
		LIMIT ?2`, micro(cutoff), limit)
	out, err := collect(rows, err, scanMedia)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sweepable media: %w", err)
	}
	if len(out) == 0 {
		return nil, nil // as store/postgres, which appends to a nil slice
	}
	return out, nil
}

// DeleteMedia removes media rows (after their files).
func (db *DB) DeleteMedia(ctx context.Context, media []int64) error {
	if _, err := db.exec(ctx, `DELETE FROM media_attachments WHERE id IN (SELECT value FROM json_each(?1))`, ids(media)); err != nil {
		return fmt.Errorf("sqlite: delete media: %w", err)
	}
	return nil
}
