package sqlite

import (
	"context"
	"fmt"

	"github.com/starling-social/starling"
)

// CreateReport stores a report with, when it is forwarded, the Flag
// activity and its events, in one transaction.
func (db *DB) CreateReport(ctx context.Context, r *starling.Report, act *starling.Activity, events ...starling.Event) error {
	err := db.inTx(ctx, func(t *tx) error {
		err := t.QueryRowContext(ctx, `INSERT INTO reports (id, account_id, target_account_id, status_ids, comment, category, forwarded, uri)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING created_at`,
			r.ID, r.AccountID, r.TargetAccountID, ids(r.StatusIDs), r.Comment, r.Category, r.Forwarded, r.URI).Scan(ts(&r.CreatedAt))
		if err != nil {
			return err
		}
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create report: %w", err)
	}
	return nil
}
