package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

// IdempotentStatus returns the live status that accountID posted with
// Idempotency-Key key within the last hour. starling.ErrNotFound when
// there is none.
func (db *DB) IdempotentStatus(ctx context.Context, accountID int64, key string) (*starling.Status, error) {
	var id int64
	err := db.read.QueryRowContext(ctx, `SELECT status_id FROM idempotency_keys
		WHERE account_id = ?1 AND key = ?2 AND created_at > ?3`, accountID, key, time.Now().Add(-time.Hour).UnixMicro()).Scan(&id)
	if notFound(err) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: idempotency key of account %d: %w", accountID, err)
	}
	return db.StatusByID(ctx, id)
}

// RememberIdempotency records that accountID's key posted statusID, and
// forgets the account's keys older than an hour.
func (db *DB) RememberIdempotency(ctx context.Context, accountID int64, key string, statusID int64) error {
	now := time.Now()
	err := db.inTx(ctx, func(t *tx) error {
		if _, err := t.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE account_id = ?1 AND created_at < ?2`,
			accountID, now.Add(-time.Hour).UnixMicro()); err != nil {
			return err
		}
		_, err := t.ExecContext(ctx, `INSERT INTO idempotency_keys (account_id, key, status_id, created_at) VALUES (?1, ?2, ?3, ?4)
			ON CONFLICT (account_id, key) DO UPDATE SET status_id = excluded.status_id, created_at = excluded.created_at`,
			accountID, key, statusID, now.UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: remember idempotency key of account %d: %w", accountID, err)
	}
	return nil
}
