package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

// insertStatusExtras writes what only remote statuses carry (the quoted
// post, the language, custom emojis) on the freshly inserted row; it is
// kept apart from insertStatus so the columns stay additive. insertStatus
// writes the mentions and hashtags.
func insertStatusExtras(ctx context.Context, tx pgx.Tx, s *starling.Status) error {
	if s.QuoteURI == "" && s.Language == "" && len(s.Emojis) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE statuses SET quote_uri = $2, language = $3, emojis = $4 WHERE id = $1`,
		s.ID, nullIfEmpty(s.QuoteURI), nullIfEmpty(s.Language), emojisOrEmpty(s.Emojis))
	if err != nil {
		return fmt.Errorf("status extras %s: %w", s.URI, err)
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func emojisOrEmpty(e []starling.Emoji) []starling.Emoji {
	if e == nil {
		return []starling.Emoji{}
	}
	return e
}

// StatusExtrasByURI returns the extras of a status, deleted or not.
func (db *DB) StatusExtrasByURI(ctx context.Context, uri string) (*starling.StatusExtras, error) {
	var e starling.StatusExtras
	err := db.pool.QueryRow(ctx, `SELECT coalesce(quote_uri, ''), mentions, hashtags FROM statuses WHERE uri = $1`, uri).
		Scan(&e.QuoteURI, &e.Mentions, &e.Hashtags)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("status extras %s: %w", uri, starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("status extras %s: %w", uri, err)
	}
	return &e, nil
}

// InboxActivityIDByURI returns the id of a received activity.
func (db *DB) InboxActivityIDByURI(ctx context.Context, uri string) (int64, error) {
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT id FROM inbox_activities WHERE uri = $1`, uri).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("inbox activity %s: %w", uri, starling.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("inbox activity %s: %w", uri, err)
	}
	return id, nil
}
