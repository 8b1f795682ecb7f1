package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/starling-social/starling"
)

// IdempotentStatus returns the live status that accountID posted with
// Idempotency-Key key within the last hour. starling.ErrNotFound when
// there is none.
func (db *DB) IdempotentStatus(ctx context.Context, accountID int64, key string) (*starling.Status, error) {
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT status_id FROM idempotency_keys
		WHERE account_id = $1 AND key = $2 AND created_at > now() - interval '1 hour'`, accountID, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency key of account %d: %w", accountID, err)
	}
	return db.StatusByID(ctx, id)
}

// RememberIdempotency records that accountID's key posted statusID, and
// forgets the account's keys older than an hour.
func (db *DB) RememberIdempotency(ctx context.Context, accountID int64, key string, statusID int64) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE account_id = $1 AND created_at < now() - interval '1 hour'`, accountID)
	if err == nil {
		_, err = db.pool.Exec(ctx, `INSERT INTO idempotency_keys (account_id, key, status_id) VALUES ($1, $2, $3)
			ON CONFLICT (account_id, key) DO UPDATE SET status_id = EXCLUDED.status_id, created_at = now()`,
			accountID, key, statusID)
	}
	if err != nil {
		return fmt.Errorf("remember idempotency key of account %d: %w", accountID, err)
	}
	return nil
}
