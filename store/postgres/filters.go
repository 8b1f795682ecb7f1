package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

// Filters returns owner's filters with their keywords and statuses, oldest
// first, expired ones included (clients show them).
func (db *DB) Filters(ctx context.Context, owner int64) ([]*starling.Filter, error) {
	return db.filters(ctx, owner, 0)
}

// FilterByID returns owner's filter id; another's is not found.
func (db *DB) FilterByID(ctx context.Context, owner, id int64) (*starling.Filter, error) {
	list, err := db.filters(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("filter %d: %w", id, starling.ErrNotFound)
	}
	return list[0], nil
}

// filters reads owner's filters, only id unless it is 0, in three queries.
func (db *DB) filters(ctx context.Context, owner, id int64) ([]*starling.Filter, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, account_id, title, context, filter_action,
		coalesce(expires_at, 'epoch'::timestamptz) FROM custom_filters
		WHERE account_id = $1 AND ($2 = 0 OR id = $2) ORDER BY id`, owner, id)
	if err != nil {
		return nil, fmt.Errorf("filters of %d: %w", owner, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*starling.Filter, error) {
		f := &starling.Filter{}
		err := row.Scan(&f.ID, &f.AccountID, &f.Title, &f.Context, &f.Action, &f.ExpiresAt)
		f.ExpiresAt = zeroEpoch(f.ExpiresAt)
		return f, err
	})
	if err != nil || len(list) == 0 {
		return list, wrapIf(err, "filters of %d", owner)
	}
	byID := make(map[int64]*starling.Filter, len(list))
	ids := make([]int64, 0, len(list))
	for _, f := range list {
		byID[f.ID] = f
		ids = append(ids, f.ID)
	}
	rows, err = db.pool.Query(ctx, `SELECT id, custom_filter_id, keyword, whole_word FROM custom_filter_keywords
		WHERE custom_filter_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("filter keywords of %d: %w", owner, err)
	}
	var k starling.FilterKeyword
	if _, err := pgx.ForEachRow(rows, []any{&k.ID, &k.FilterID, &k.Keyword, &k.WholeWord}, func() error {
		byID[k.FilterID].Keywords = append(byID[k.FilterID].Keywords, k)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("filter keywords of %d: %w", owner, err)
	}
	rows, err = db.pool.Query(ctx, `SELECT id, custom_filter_id, status_id FROM custom_filter_statuses
		WHERE custom_filter_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("filter statuses of %d: %w", owner, err)
	}
	var fs starling.FilterStatus
	if _, err := pgx.ForEachRow(rows, []any{&fs.ID, &fs.FilterID, &fs.StatusID}, func() error {
		byID[fs.FilterID].Statuses = append(byID[fs.FilterID].Statuses, fs)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("filter statuses of %d: %w", owner, err)
	}
	return list, nil
}

func wrapIf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// CreateFilter stores f (of f.AccountID) with its keywords and statuses,
// and sets their ids.
func (db *DB) CreateFilter(ctx context.Context, f *starling.Filter) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO custom_filters (account_id, title, context, filter_action, expires_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, f.AccountID, f.Title, f.Context, f.Action, nullTime(f.ExpiresAt)).
			Scan(&f.ID); err != nil {
			return err
		}
		for i := range f.Keywords {
			k := &f.Keywords[i]
			k.FilterID = f.ID
			if err := tx.QueryRow(ctx, `INSERT INTO custom_filter_keywords (custom_filter_id, keyword, whole_word)
				VALUES ($1, $2, $3) RETURNING id`, f.ID, k.Keyword, k.WholeWord).Scan(&k.ID); err != nil {
				return err
			}
		}
		for i := range f.Statuses {
			s := &f.Statuses[i]
			s.FilterID = f.ID
			if err := tx.QueryRow(ctx, `INSERT INTO custom_filter_statuses (custom_filter_id, status_id)
				VALUES ($1, $2) RETURNING id`, f.ID, s.StatusID).Scan(&s.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create filter: %w", err)
	}
	return nil
}

// UpdateFilter saves f's title, context, action and expiry and applies
// edits to its keywords, all or nothing. A filter or keyword that is not
// f.AccountID's is not found.
func (db *DB) UpdateFilter(ctx context.Context, f *starling.Filter, edits []starling.FilterKeywordEdit) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE custom_filters SET title = $3, context = $4, filter_action = $5, expires_at = $6
			WHERE id = $1 AND account_id = $2`, f.ID, f.AccountID, f.Title, f.Context, f.Action, nullTime(f.ExpiresAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return starling.ErrNotFound
		}
		for _, e := range edits {
			switch {
			case e.ID == 0 && !e.Destroy:
				_, err = tx.Exec(ctx, `INSERT INTO custom_filter_keywords (custom_filter_id, keyword, whole_word)
					VALUES ($1, $2, $3)`, f.ID, e.Keyword, e.WholeWord)
			case e.Destroy:
				tag, err = tx.Exec(ctx, `DELETE FROM custom_filter_keywords WHERE id = $1 AND custom_filter_id = $2`, e.ID, f.ID)
			default:
				tag, err = tx.Exec(ctx, `UPDATE custom_filter_keywords SET keyword = $3, whole_word = $4
					WHERE id = $1 AND custom_filter_id = $2`, e.ID, f.ID, e.Keyword, e.WholeWord)
			}
			if err != nil {
				return err
			}
			if e.ID != 0 && tag.RowsAffected() == 0 {
				return starling.ErrNotFound
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update filter %d: %w", f.ID, err)
	}
	return nil
}

// DeleteFilter deletes owner's filter id with its keywords and statuses.
func (db *DB) DeleteFilter(ctx context.Context, owner, id int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM custom_filters WHERE id = $1 AND account_id = $2`, id, owner)
	if err != nil {
		return fmt.Errorf("delete filter %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete filter %d: %w", id, starling.ErrNotFound)
	}
	return nil
}

// FilterKeywordByID returns owner's filter keyword id.
func (db *DB) FilterKeywordByID(ctx context.Context, owner, id int64) (*starling.FilterKeyword, error) {
	var k starling.FilterKeyword
	err := db.pool.QueryRow(ctx, `SELECT k.id, k.custom_filter_id, k.keyword, k.whole_word
		FROM custom_filter_keywords k JOIN custom_filters f ON f.id = k.custom_filter_id
		WHERE k.id = $1 AND f.account_id = $2`, id, owner).Scan(&k.ID, &k.FilterID, &k.Keyword, &k.WholeWord)
	if err != nil {
		return nil, fmt.Errorf("filter keyword %d: %w", id, notFound(err))
	}
	return &k, nil
}

// AddFilterKeyword adds k to owner's filter k.FilterID and sets k.ID.
func (db *DB) AddFilterKeyword(ctx context.Context, owner int64, k *starling.FilterKeyword) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO custom_filter_keywords (custom_filter_id, keyword, whole_word)
		SELECT f.id, $3, $4 FROM custom_filters f WHERE f.id = $1 AND f.account_id = $2 RETURNING id`,
		k.FilterID, owner, k.Keyword, k.WholeWord).Scan(&k.ID)
	if err != nil {
		return fmt.Errorf("add filter keyword: %w", notFound(err))
	}
	return nil
}

// UpdateFilterKeyword saves owner's keyword k.
func (db *DB) UpdateFilterKeyword(ctx context.Context, owner int64, k *starling.FilterKeyword) error {
	tag, err := db.pool.Exec(ctx, `UPDATE custom_filter_keywords k SET keyword = $3, whole_word = $4
		FROM custom_filters f WHERE k.id = $1 AND f.id = k.custom_filter_id AND f.account_id = $2`,
		k.ID, owner, k.Keyword, k.WholeWord)
	if err == nil && tag.RowsAffected() == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("update filter keyword %d: %w", k.ID, err)
	}
	return nil
}

// DeleteFilterKeyword deletes owner's keyword id.
func (db *DB) DeleteFilterKeyword(ctx context.Context, owner, id int64) error {
	return db.deleteFilterPart(ctx, "custom_filter_keywords", owner, id)
}

// FilterStatusByID returns owner's filter status id.
func (db *DB) FilterStatusByID(ctx context.Context, owner, id int64) (*starling.FilterStatus, error) {
	var s starling.FilterStatus
	err := db.pool.QueryRow(ctx, `SELECT s.id, s.custom_filter_id, s.status_id
		FROM custom_filter_statuses s JOIN custom_filters f ON f.id = s.custom_filter_id
		WHERE s.id = $1 AND f.account_id = $2`, id, owner).Scan(&s.ID, &s.FilterID, &s.StatusID)
	if err != nil {
		return nil, fmt.Errorf("filter status %d: %w", id, notFound(err))
	}
	return &s, nil
}

// AddFilterStatus adds s to owner's filter s.FilterID and sets s.ID; a
// status the filter has already is EINVALID, as on Mastodon.
func (db *DB) AddFilterStatus(ctx context.Context, owner int64, s *starling.FilterStatus) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO custom_filter_statuses (custom_filter_id, status_id)
		SELECT f.id, $3 FROM custom_filters f WHERE f.id = $1 AND f.account_id = $2 RETURNING id`,
		s.FilterID, owner, s.StatusID).Scan(&s.ID)
	if isUniqueViolation(err) {
		return starling.Errorf(starling.EINVALID, "Status has already been taken")
	}
	if err != nil {
		return fmt.Errorf("add filter status: %w", notFound(err))
	}
	return nil
}

// DeleteFilterStatus deletes owner's filter status id.
func (db *DB) DeleteFilterStatus(ctx context.Context, owner, id int64) error {
	return db.deleteFilterPart(ctx, "custom_filter_statuses", owner, id)
}

func (db *DB) deleteFilterPart(ctx context.Context, table string, owner, id int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM `+table+` x USING custom_filters f
		WHERE x.id = $1 AND f.id = x.custom_filter_id AND f.account_id = $2`, id, owner)
	if err == nil && tag.RowsAffected() == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete from %s %d: %w", table, id, err)
	}
	return nil
}
