package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/starling-social/starling"
)

// RemoteMediaFile returns the media store key of the cached copy of the
// remote picture whose URL hashes to hash, or starling.ErrNotFound.
func (db *DB) RemoteMediaFile(ctx context.Context, hash string) (string, error) {
	var key string
	err := db.read.QueryRowContext(ctx, `SELECT file_key FROM remote_media WHERE hash = ?1`, hash).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", starling.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: remote media %s: %w", hash, err)
	}
	return key, nil
}

// RecordRemoteMedia records a fetched copy; the first of two stays.
func (db *DB) RecordRemoteMedia(ctx context.Context, m starling.RemoteMedia) error {
	if _, err := db.exec(ctx, `INSERT INTO remote_media (hash, file_key, url, host, size, fetched_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (hash) DO NOTHING`,
		m.Hash, m.FileKey, m.URL, m.Host, m.Size, m.FetchedAt.UnixMicro()); err != nil {
		return fmt.Errorf("sqlite: record remote media %s: %w", m.URL, err)
	}
	return nil
}

// ExpiredRemoteMedia returns up to limit copies fetched before before,
// oldest first.
func (db *DB) ExpiredRemoteMedia(ctx context.Context, before time.Time, limit int) ([]starling.RemoteMedia, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT hash, file_key, url, host, size, fetched_at FROM remote_media
		WHERE fetched_at < ?1 ORDER BY fetched_at LIMIT ?2`, before.UnixMicro(), limit)
	out, err := collect(rows, err, func(r scanner) (starling.RemoteMedia, error) {
		var m starling.RemoteMedia
		var at int64
		err := r.Scan(&m.Hash, &m.FileKey, &m.URL, &m.Host, &m.Size, &at)
		m.FetchedAt = time.UnixMicro(at)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: expired remote media: %w", err)
	}
	return out, nil
}

// DeleteRemoteMedia forgets the copies with these hashes.
func (db *DB) DeleteRemoteMedia(ctx context.Context, hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	args := make([]any, len(hashes))
	for i, h := range hashes {
		args[i] = h
	}
	if _, err := db.exec(ctx, `DELETE FROM remote_media WHERE hash IN (?`+strings.Repeat(",?", len(hashes)-1)+`)`, args...); err != nil {
		return fmt.Errorf("sqlite: delete remote media: %w", err)
	}
	return nil
}
