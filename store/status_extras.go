package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// StatusExtras are the fields of a remote status beyond its text: the post
// it quotes, and the actors and hashtags it mentions.
type StatusExtras struct {
	QuoteURI string
	Mentions []string // actor IRIs
	Hashtags []string // lower case, without '#'
}

// Emoji is a custom emoji a status uses, as Mastodon's CustomEmoji entity
// names its fields.
type Emoji struct {
	Shortcode string `json:"shortcode"`
	URL       string `json:"url"`
	StaticURL string `json:"static_url"`
}

// insertStatusExtras writes what only remote statuses carry (the quoted
// post, the language, custom emojis) on the freshly inserted row; it is
// kept apart from insertStatus so the columns stay additive. insertStatus
// writes the mentions and hashtags.
func insertStatusExtras(ctx context.Context, tx pgx.Tx, s *Status) error {
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

func emojisOrEmpty(e []Emoji) []Emoji {
	if e == nil {
		return []Emoji{}
	}
	return e
}

// StatusExtrasByURI returns the extras of a status, deleted or not.
func (db *DB) StatusExtrasByURI(ctx context.Context, uri string) (*StatusExtras, error) {
	var e StatusExtras
	err := db.pool.QueryRow(ctx, `SELECT coalesce(quote_uri, ''), mentions, hashtags FROM statuses WHERE uri = $1`, uri).
		Scan(&e.QuoteURI, &e.Mentions, &e.Hashtags)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("status extras %s: %w", uri, ErrNotFound)
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
		return 0, fmt.Errorf("inbox activity %s: %w", uri, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("inbox activity %s: %w", uri, err)
	}
	return id, nil
}
