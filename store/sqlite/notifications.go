package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/starling-social/starling"
)

// InsertNotification stores n once: a replayed event finds the row (unique
// on recipient, type, sender and status) and changes nothing. Nothing is
// stored when the recipient is not local, or blocks, mutes or blocks the
// domain of the sender. It reports whether a row was added and sets n.ID.
func (db *DB) InsertNotification(ctx context.Context, n *starling.Notification) (bool, error) {
	var status any
	if n.StatusID != 0 {
		status = n.StatusID
	}
	var added bool
	err := db.inTx(ctx, func(t *tx) error {
		err := t.QueryRowContext(ctx, `INSERT INTO notifications (id, account_id, type, from_account_id, status_id)
		SELECT ?1, ?2, ?3, ?4, ?5
		 WHERE ?2 <> ?4
		   AND EXISTS (SELECT 1 FROM accounts WHERE id = ?2 AND domain IS NULL)
		   AND NOT EXISTS (SELECT 1 FROM blocks WHERE account_id = ?2 AND target_account_id = ?4)
		   AND NOT EXISTS (SELECT 1 FROM mutes WHERE account_id = ?2 AND target_account_id = ?4)
		   AND NOT EXISTS (SELECT 1 FROM domain_blocks d JOIN accounts a ON lower(a.domain) = d.domain
		                    WHERE d.account_id = ?2 AND a.id = ?4)
		ON CONFLICT DO NOTHING RETURNING id`, n.ID, n.AccountID, n.Type, n.FromAccountID, status).Scan(&n.ID)
		if notFound(err) {
			return nil
		}
		added = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: insert notification: %w", err)
	}
	return added, nil
}

// Notifications reads a page of accountID's notifications, newest first,
// with senders and statuses. Notifications whose status was deleted are
// not shown.
func (db *DB) Notifications(ctx context.Context, accountID int64, p starling.Page, f starling.NotificationFilter) ([]*starling.Notification, error) {
	order, upper, lower := pageBounds(p)
	rows, err := db.read.QueryContext(ctx, `SELECT n.id, n.account_id, n.type, n.from_account_id, coalesce(n.status_id, 0), n.created_at,
		`+accountColumns+`
		FROM notifications n JOIN accounts a ON a.id = n.from_account_id
		LEFT JOIN statuses s ON s.id = n.status_id
		WHERE n.account_id = ?1 AND n.id < ?2 AND n.id > ?3
		  AND (n.status_id IS NULL OR s.deleted_at IS NULL)
		  AND (json_array_length(?5) = 0 OR n.type IN (SELECT value FROM json_each(?5)))
		  AND n.type NOT IN (SELECT value FROM json_each(?6))
		ORDER BY n.id `+order+` LIMIT ?4`, accountID, upper, lower, p.Limit, strs(f.Types), strs(f.ExcludeTypes))
	out, err := collect(rows, err, scanNotification)
	if err != nil {
		return nil, fmt.Errorf("sqlite: notifications of %d: %w", accountID, err)
	}
	if order == "ASC" {
		slices.Reverse(out) // read oldest first, shown newest first
	}
	return out, db.loadNotificationStatuses(ctx, accountID, out)
}

func scanNotification(row scanner) (*starling.Notification, error) {
	var n starling.Notification
	var a starling.Account
	err := row.Scan(append([]any{&n.ID, &n.AccountID, &n.Type, &n.FromAccountID, &n.StatusID, ts(&n.CreatedAt)},
		accountDest(&a)...)...)
	if err != nil {
		return nil, err
	}
	accountScanned(&a)
	n.From = &a
	return &n, nil
}

func (db *DB) loadNotificationStatuses(ctx context.Context, viewer int64, ns []*starling.Notification) error {
	for _, n := range ns {
		if n.StatusID == 0 {
			continue
		}
		it, err := db.ItemByID(ctx, viewer, n.StatusID)
		if errors.Is(err, starling.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		n.Status = it
	}
	return nil
}

// NotificationByID returns accountID's notification id.
func (db *DB) NotificationByID(ctx context.Context, accountID, id int64) (*starling.Notification, error) {
	ns, err := db.Notifications(ctx, accountID, starling.Page{MaxID: id + 1, SinceID: id - 1, Limit: 1}, starling.NotificationFilter{})
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("sqlite: notification %d: %w", id, starling.ErrNotFound)
	}
	return ns[0], nil
}

// DismissNotification deletes accountID's notification id.
func (db *DB) DismissNotification(ctx context.Context, accountID, id int64) error {
	if _, err := db.exec(ctx, `DELETE FROM notifications WHERE account_id = ?1 AND id = ?2`, accountID, id); err != nil {
		return fmt.Errorf("sqlite: dismiss notification %d: %w", id, err)
	}
	return nil
}

// ClearNotifications deletes all of accountID's notifications.
func (db *DB) ClearNotifications(ctx context.Context, accountID int64) error {
	if _, err := db.exec(ctx, `DELETE FROM notifications WHERE account_id = ?1`, accountID); err != nil {
		return fmt.Errorf("sqlite: clear notifications: %w", err)
	}
	return nil
}

// UnreadNotifications counts accountID's notifications newer than its
// notifications marker (all of them without one), up to limit.
func (db *DB) UnreadNotifications(ctx context.Context, accountID int64, limit int) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM notifications n
		WHERE n.account_id = ?1 AND n.id > coalesce((SELECT last_read_id FROM markers
			WHERE account_id = ?1 AND timeline = 'notifications'), 0)
		LIMIT ?2)`, accountID, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: unread notifications of %d: %w", accountID, err)
	}
	return n, nil
}
