package sqlite

import (
	"context"
	"fmt"

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
		return nil, fmt.Errorf("sqlite: filter %d: %w", id, starling.ErrNotFound)
	}
	return list[0], nil
}

// filters reads owner's filters, only id unless it is 0, in three queries.
func (db *DB) filters(ctx context.Context, owner, id int64) ([]*starling.Filter, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, account_id, title, context, filter_action, expires_at
		FROM custom_filters WHERE account_id = ?1 AND (?2 = 0 OR id = ?2) ORDER BY id`, owner, id)
	list, err := collect(rows, err, func(r scanner) (*starling.Filter, error) {
		f := &starling.Filter{}
		err := r.Scan(&f.ID, &f.AccountID, &f.Title, jsonOf(&f.Context), &f.Action, ts(&f.ExpiresAt))
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: filters of %d: %w", owner, err)
	}
	if len(list) == 0 {
		return list, nil
	}
	byID := make(map[int64]*starling.Filter, len(list))
	filterIDs := make([]int64, 0, len(list))
	for _, f := range list {
		byID[f.ID] = f
		filterIDs = append(filterIDs, f.ID)
	}
	rows, err = db.read.QueryContext(ctx, `SELECT id, custom_filter_id, keyword, whole_word FROM custom_filter_keywords
		WHERE custom_filter_id IN (SELECT value FROM json_each(?1)) ORDER BY id`, ids(filterIDs))
	keywords, err := collect(rows, err, func(r scanner) (starling.FilterKeyword, error) {
		var k starling.FilterKeyword
		err := r.Scan(&k.ID, &k.FilterID, &k.Keyword, &k.WholeWord)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: filter keywords of %d: %w", owner, err)
	}
	for _, k := range keywords {
		byID[k.FilterID].Keywords = append(byID[k.FilterID].Keywords, k)
	}
	rows, err = db.read.QueryContext(ctx, `SELECT id, custom_filter_id, status_id FROM custom_filter_statuses
		WHERE custom_filter_id IN (SELECT value FROM json_each(?1)) ORDER BY id`, ids(filterIDs))
	statuses, err := collect(rows, err, func(r scanner) (starling.FilterStatus, error) {
		var s starling.FilterStatus
		err := r.Scan(&s.ID, &s.FilterID, &s.StatusID)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: filter statuses of %d: %w", owner, err)
	}
	for _, s := range statuses {
		byID[s.FilterID].Statuses = append(byID[s.FilterID].Statuses, s)
	}
	return list, nil
}

// CreateFilter stores f (of f.AccountID) with its keywords and statuses,
// and sets their ids.
func (db *DB) CreateFilter(ctx context.Context, f *starling.Filter) error {
	err := db.inTx(ctx, func(t *tx) error {
		if err := t.QueryRowContext(ctx, `INSERT INTO custom_filters (account_id, title, context, filter_action, expires_at)
			VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id`, f.AccountID, f.Title, strs(f.Context), f.Action, microOrNull(f.ExpiresAt)).
			Scan(&f.ID); err != nil {
			return err
		}
		for i := range f.Keywords {
			k := &f.Keywords[i]
			k.FilterID = f.ID
			if err := t.QueryRowContext(ctx, `INSERT INTO custom_filter_keywords (custom_filter_id, keyword, whole_word)
				VALUES (?1, ?2, ?3) RETURNING id`, f.ID, k.Keyword, k.WholeWord).Scan(&k.ID); err != nil {
				return err
			}
		}
		for i := range f.Statuses {
			s := &f.Statuses[i]
			s.FilterID = f.ID
			if err := t.QueryRowContext(ctx, `INSERT INTO custom_filter_statuses (custom_filter_id, status_id)
				VALUES (?1, ?2) RETURNING id`, f.ID, s.StatusID).Scan(&s.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: create filter: %w", err)
	}
	return nil
}

// UpdateFilter saves f's title, context, action and expiry and applies
// edits to its keywords, all or nothing. A filter or keyword that is not
// f.AccountID's is not found.
func (db *DB) UpdateFilter(ctx context.Context, f *starling.Filter, edits []starling.FilterKeywordEdit) error {
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `UPDATE custom_filters SET title = ?3, context = ?4, filter_action = ?5, expires_at = ?6
			WHERE id = ?1 AND account_id = ?2`, f.ID, f.AccountID, f.Title, strs(f.Context), f.Action, microOrNull(f.ExpiresAt)))
		if err != nil {
			return err
		}
		if n == 0 {
			return starling.ErrNotFound
		}
		for _, e := range edits {
			switch {
			case e.ID == 0 && !e.Destroy:
				n, err = affected(t.ExecContext(ctx, `INSERT INTO custom_filter_keywords (custom_filter_id, keyword, whole_word)
					VALUES (?1, ?2, ?3)`, f.ID, e.Keyword, e.WholeWord))
			case e.Destroy:
				n, err = affected(t.ExecContext(ctx, `DELETE FROM custom_filter_keywords WHERE id = ?1 AND custom_filter_id = ?2`, e.ID, f.ID))
			default:
				n, err = affected(t.ExecContext(ctx, `UPDATE custom_filter_keywords SET keyword = ?3, whole_word = ?4
					WHERE id = ?1 AND custom_filter_id = ?2`, e.ID, f.ID, e.Keyword, e.WholeWord))
			}
			if err != nil {
				return err
			}
			if e.ID != 0 && n == 0 {
				return starling.ErrNotFound
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: update filter %d: %w", f.ID, err)
	}
	return nil
}

// DeleteFilter deletes owner's filter id with its keywords and statuses.
func (db *DB) DeleteFilter(ctx context.Context, owner, id int64) error {
	n, err := db.exec(ctx, `DELETE FROM custom_filters WHERE id = ?1 AND account_id = ?2`, id, owner)
	if err == nil && n == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete filter %d: %w", id, err)
	}
	return nil
}

// FilterKeywordByID returns owner's filter keyword id.
func (db *DB) FilterKeywordByID(ctx context.Context, owner, id int64) (*starling.FilterKeyword, error) {
	var k starling.FilterKeyword
	err := db.read.QueryRowContext(ctx, `SELECT k.id, k.custom_filter_id, k.keyword, k.whole_word
		FROM custom_filter_keywords k JOIN custom_filters f ON f.id = k.custom_filter_id
		WHERE k.id = ?1 AND f.account_id = ?2`, id, owner).Scan(&k.ID, &k.FilterID, &k.Keyword, &k.WholeWord)
	if notFound(err) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: filter keyword %d: %w", id, err)
	}
	return &k, nil
}

// AddFilterKeyword adds k to owner's filter k.FilterID and sets k.ID.
func (db *DB) AddFilterKeyword(ctx context.Context, owner int64, k *starling.FilterKeyword) error {
	err := db.inTx(ctx, func(t *tx) error {
		return t.QueryRowContext(ctx, `INSERT INTO custom_filter_keywords (custom_filter_id, keyword, whole_word)
		SELECT f.id, ?3, ?4 FROM custom_filters f WHERE f.id = ?1 AND f.account_id = ?2 RETURNING id`,
			k.FilterID, owner, k.Keyword, k.WholeWord).Scan(&k.ID)
	})
	if notFound(err) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: add filter keyword: %w", err)
	}
	return nil
}

// UpdateFilterKeyword saves owner's keyword k.
func (db *DB) UpdateFilterKeyword(ctx context.Context, owner int64, k *starling.FilterKeyword) error {
	n, err := db.exec(ctx, `UPDATE custom_filter_keywords SET keyword = ?3, whole_word = ?4
		WHERE id = ?1 AND custom_filter_id IN (SELECT id FROM custom_filters WHERE account_id = ?2)`,
		k.ID, owner, k.Keyword, k.WholeWord)
	if err == nil && n == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: update filter keyword %d: %w", k.ID, err)
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
	err := db.read.QueryRowContext(ctx, `SELECT s.id, s.custom_filter_id, s.status_id
		FROM custom_filter_statuses s JOIN custom_filters f ON f.id = s.custom_filter_id
		WHERE s.id = ?1 AND f.account_id = ?2`, id, owner).Scan(&s.ID, &s.FilterID, &s.StatusID)
	if notFound(err) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: filter status %d: %w", id, err)
	}
	return &s, nil
}

// AddFilterStatus adds s to owner's filter s.FilterID and sets s.ID; a
// status the filter has already is EINVALID, as on Mastodon.
func (db *DB) AddFilterStatus(ctx context.Context, owner int64, s *starling.FilterStatus) error {
	err := db.inTx(ctx, func(t *tx) error {
		return t.QueryRowContext(ctx, `INSERT INTO custom_filter_statuses (custom_filter_id, status_id)
		SELECT f.id, ?3 FROM custom_filters f WHERE f.id = ?1 AND f.account_id = ?2 RETURNING id`,
			s.FilterID, owner, s.StatusID).Scan(&s.ID)
	})
	if isUniqueViolation(err) {
		return starling.Errorf(starling.EINVALID, "Status has already been taken")
	}
	if notFound(err) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: add filter status: %w", err)
	}
	return nil
}

// DeleteFilterStatus deletes owner's filter status id.
func (db *DB) DeleteFilterStatus(ctx context.Context, owner, id int64) error {
	return db.deleteFilterPart(ctx, "custom_filter_statuses", owner, id)
}

func (db *DB) deleteFilterPart(ctx context.Context, table string, owner, id int64) error {
	n, err := db.exec(ctx, `DELETE FROM `+table+` WHERE id = ?1
		AND custom_filter_id IN (SELECT id FROM custom_filters WHERE account_id = ?2)`, id, owner)
	if err == nil && n == 0 {
		err = starling.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete from %s %d: %w", table, id, err)
	}
	return nil
}
