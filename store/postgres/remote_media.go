package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/starling-social/starling"
)

// RemoteMediaFile returns the media store key of the cached copy of the
// remote picture whose URL hashes to hash, or starling.ErrNotFound.
func (db *DB) RemoteMediaFile(ctx context.Context, hash string) (string, error) {
	var key string
	err := db.pool.QueryRow(ctx, `SELECT file_key FROM remote_media WHERE hash = $1`, hash).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", starling.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("remote media %s: %w", hash, err)
	}
	return key, nil
}

// RecordRemoteMedia records a fetched copy; a second fetch of the same
// picture (two processes at once) keeps the first.
func (db *DB) RecordRemoteMedia(ctx context.Context, m starling.RemoteMedia) error {
	if _, err := db.pool.Exec(ctx, `INSERT INTO remote_media (hash, file_key, url, host, size, fetched_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING`,
		m.Hash, m.FileKey, m.URL, m.Host, m.Size, m.FetchedAt); err != nil {
		return fmt.Errorf("record remote media %s: %w", m.URL, err)
	}
	return nil
}

// ExpiredRemoteMedia returns up to limit copies fetched before before,
// oldest first.
func (db *DB) ExpiredRemoteMedia(ctx context.Context, before time.Time, limit int) ([]starling.RemoteMedia, error) {
	rows, err := db.pool.Query(ctx, `SELECT hash, file_key, url, host, size, fetched_at FROM remote_media
		WHERE fetched_at < $1 ORDER BY fetched_at LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("expired remote media: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (starling.RemoteMedia, error) {
		var m starling.RemoteMedia
		return m, r.Scan(&m.Hash, &m.FileKey, &m.URL, &m.Host, &m.Size, &m.FetchedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("expired remote media: %w", err)
	}
	return out, nil
}

// DeleteRemoteMedia forgets the copies with these hashes (their files are
// deleted first, by the sweeper).
func (db *DB) DeleteRemoteMedia(ctx context.Context, hashes []string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM remote_media WHERE hash = ANY($1)`, hashes); err != nil {
		return fmt.Errorf("delete remote media: %w", err)
	}
	return nil
}
