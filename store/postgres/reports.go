package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/starling-social/starling"
)

// CreateReport stores a report with, when it is forwarded, the Flag
// activity and its events, in one transaction.
func (db *DB) CreateReport(ctx context.Context, r *starling.Report, act *starling.Activity, events ...starling.Event) error {
	ids := r.StatusIDs
	if ids == nil {
		ids = []int64{}
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO reports (id, account_id, target_account_id, status_ids, comment, category, forwarded, uri)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_at`,
			r.ID, r.AccountID, r.TargetAccountID, ids, r.Comment, r.Category, r.Forwarded, r.URI).Scan(&r.CreatedAt)
		if err != nil {
			return err
		}
		return recordActivity(ctx, tx, act, events)
	})
	if err != nil {
		return fmt.Errorf("create report: %w", err)
	}
	return nil
}
