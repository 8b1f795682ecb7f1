package sqlite

import (
	"context"
	"fmt"

	"github.com/starling-social/starling"
)

// insertStatusExtras writes what only remote statuses carry (the quoted
// post, the language, custom emojis) on the freshly inserted row.
func insertStatusExtras(ctx context.Context, t *tx, s *starling.Status) error {
	if s.QuoteURI == "" && s.Language == "" && len(s.Emojis) == 0 {
		return nil
	}
	_, err := t.ExecContext(ctx, `UPDATE statuses SET quote_uri = ?2, language = ?3, emojis = ?4 WHERE id = ?1`,
		s.ID, nullIfEmpty(s.QuoteURI), nullIfEmpty(s.Language), emojisText(s.Emojis))
	if err != nil {
		return fmt.Errorf("status extras %s: %w", s.URI, err)
	}
	return nil
}

func emojisText(e []starling.Emoji) string {
	if e == nil {
		return "[]"
	}
	return jsonText(e)
}

// StatusExtrasByURI returns the extras of a status, deleted or not.
func (db *DB) StatusExtrasByURI(ctx context.Context, uri string) (*starling.StatusExtras, error) {
	var e starling.StatusExtras
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(quote_uri, ''), mentions, hashtags FROM statuses WHERE uri = ?1`, uri).
		Scan(&e.QuoteURI, jsonOf(&e.Mentions), jsonOf(&e.Hashtags))
	if notFound(err) {
		return nil, fmt.Errorf("sqlite: status extras %s: %w", uri, starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: status extras %s: %w", uri, err)
	}
	return &e, nil
}

// InboxActivityIDByURI returns the id of a received activity.
func (db *DB) InboxActivityIDByURI(ctx context.Context, uri string) (int64, error) {
	var id int64
	err := db.read.QueryRowContext(ctx, `SELECT id FROM inbox_activities WHERE uri = ?1`, uri).Scan(&id)
	if notFound(err) {
		return 0, fmt.Errorf("sqlite: inbox activity %s: %w", uri, starling.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: inbox activity %s: %w", uri, err)
	}
	return id, nil
}
