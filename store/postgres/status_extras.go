package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

// insertStatusExtras writes s's extras on its freshly inserted row; it is
// kept apart from insertStatus so the columns stay additive.
func insertStatusExtras(ctx context.Context, tx pgx.Tx, s *starling.Status) error {
	if s.QuoteURI == "" && len(s.Mentions) == 0 && len(s.Hashtags) == 0 {
		return nil
	}
	var quote any
	if s.QuoteURI != "" {
		quote = s.QuoteURI
	}
	mentions, hashtags := s.Mentions, s.Hashtags
	if mentions == nil {
		mentions = []string{}
	}
	if hashtags == nil {
		hashtags = []string{}
	}
	_, err := tx.Exec(ctx, `UPDATE statuses SET quote_uri = $2, mentions = $3, hashtags = $4 WHERE id = $1`,
		s.ID, quote, mentions, hashtags)
	if err != nil {
		return fmt.Errorf("status extras %s: %w", s.URI, err)
	}
	return nil
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
