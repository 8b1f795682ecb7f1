package sqlite

import (
	"context"
	"fmt"
	"slices"

	"github.com/starling-social/starling"
)

// Markers returns accountID's saved read positions, by timeline name.
func (db *DB) Markers(ctx context.Context, accountID int64) (map[string]starling.Marker, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT timeline, last_read_id, version, updated_at FROM markers WHERE account_id = ?1`, accountID)
	type named struct {
		name string
		m    starling.Marker
	}
	list, err := collect(rows, err, func(r scanner) (named, error) {
		var n named
		err := r.Scan(&n.name, &n.m.LastReadID, &n.m.Version, ts(&n.m.UpdatedAt))
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: markers: %w", err)
	}
	out := make(map[string]starling.Marker, len(list))
	for _, n := range list {
		out[n.name] = n.m
	}
	return out, nil
}

// SaveMarker records accountID's read position in timeline and returns it
// with its new version.
func (db *DB) SaveMarker(ctx context.Context, accountID int64, timeline string, lastReadID int64) (starling.Marker, error) {
	var m starling.Marker
	err := db.inTx(ctx, func(t *tx) error {
		return t.QueryRowContext(ctx, `INSERT INTO markers (account_id, timeline, last_read_id, updated_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (account_id, timeline) DO UPDATE
		   SET last_read_id = excluded.last_read_id, version = markers.version + 1, updated_at = excluded.updated_at
		RETURNING last_read_id, version, updated_at`, accountID, timeline, lastReadID, nowMicro()).
			Scan(&m.LastReadID, &m.Version, ts(&m.UpdatedAt))
	})
	if err != nil {
		return m, fmt.Errorf("sqlite: save marker: %w", err)
	}
	return m, nil
}

// SetBookmark adds (on) or removes a bookmark; either is idempotent.
func (db *DB) SetBookmark(ctx context.Context, accountID, statusID int64, on bool) error {
	return db.setMark(ctx, "bookmarks", accountID, statusID, on)
}

// SetPin pins (on) or unpins one of accountID's own statuses; either is
// idempotent. The caller checks the status is accountID's own.
func (db *DB) SetPin(ctx context.Context, accountID, statusID int64, on bool) error {
	return db.setMark(ctx, "status_pins", accountID, statusID, on)
}

// PinCount counts accountID's pinned statuses.
func (db *DB) PinCount(ctx context.Context, accountID int64) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM status_pins WHERE account_id = ?1`, accountID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: pin count: %w", err)
	}
	return n, nil
}

func (db *DB) setMark(ctx context.Context, table string, accountID, statusID int64, on bool) error {
	q := `DELETE FROM ` + table + ` WHERE account_id = ?1 AND status_id = ?2`
	if on {
		q = `INSERT INTO ` + table + ` (account_id, status_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING`
	}
	if _, err := db.exec(ctx, q, accountID, statusID); err != nil {
		return fmt.Errorf("sqlite: %s: %w", table, err)
	}
	return nil
}

// ViewerFlags returns viewer's favourite, boost, bookmark and pin marks on
// each of ids that has any.
func (db *DB) ViewerFlags(ctx context.Context, viewer int64, statusIDs []int64) (map[int64]starling.ViewerFlags, error) {
	out := map[int64]starling.ViewerFlags{}
	if viewer == 0 || len(statusIDs) == 0 {
		return out, nil
	}
	rows, err := db.read.QueryContext(ctx, `SELECT i.value,
		EXISTS (SELECT 1 FROM favourites f WHERE f.account_id = ?1 AND f.status_id = i.value),
		EXISTS (SELECT 1 FROM statuses rb WHERE rb.account_id = ?1 AND rb.reblog_of_id = i.value AND rb.deleted_at IS NULL),
		EXISTS (SELECT 1 FROM bookmarks b WHERE b.account_id = ?1 AND b.status_id = i.value),
		EXISTS (SELECT 1 FROM status_pins p WHERE p.account_id = ?1 AND p.status_id = i.value)
		FROM json_each(?2) AS i`, viewer, ids(statusIDs))
	type flagged struct {
		id int64
		f  starling.ViewerFlags
	}
	list, err := collect(rows, err, func(r scanner) (flagged, error) {
		var x flagged
		err := r.Scan(&x.id, &x.f.Favourited, &x.f.Reblogged, &x.f.Bookmarked, &x.f.Pinned)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: viewer flags: %w", err)
	}
	for _, x := range list {
		out[x.id] = x.f
	}
	return out, nil
}

// Bookmarks reads viewer's bookmarked live statuses, the latest
// bookmarked first, paged by bookmark.
func (db *DB) Bookmarks(ctx context.Context, viewer int64, p starling.Page) ([]starling.MarkedItem, error) {
	return db.markedPage(ctx, "bookmarks", "bookmarks", viewer, p)
}

// FavouritedStatuses reads viewer's favourited live statuses, the latest
// favourited first, paged by favourite.
func (db *DB) FavouritedStatuses(ctx context.Context, viewer int64, p starling.Page) ([]starling.MarkedItem, error) {
	return db.markedPage(ctx, "favourites", "favourites", viewer, p)
}

// markedPage reads a page of viewer's marks in table (ordered by its id
// column) and the statuses they mark.
func (db *DB) markedPage(ctx context.Context, what, table string, viewer int64, p starling.Page) ([]starling.MarkedItem, error) {
	order, upper, lower := pageBounds(p)
	rows, err := db.read.QueryContext(ctx, `SELECT x.id, x.status_id FROM `+table+` x
		JOIN statuses s ON s.id = x.status_id AND s.deleted_at IS NULL
		WHERE x.account_id = ?1 AND x.id < ?2 AND x.id > ?3 ORDER BY x.id `+order+` LIMIT ?4`,
		viewer, upper, lower, p.Limit)
	type mark struct{ cursor, status int64 }
	marks, err := collect(rows, err, func(r scanner) (mark, error) {
		var m mark
		err := r.Scan(&m.cursor, &m.status)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if len(marks) == 0 {
		return nil, nil
	}
	if order == "ASC" {
		slices.Reverse(marks)
	}
	statusIDs := make([]int64, len(marks))
	for i, m := range marks {
		statusIDs[i] = m.status
	}
	items, err := db.timeline(starling.WithViewer(ctx, viewer), what, `statuses s`,
		`s.id IN (SELECT value FROM json_each(?2)) AND s.deleted_at IS NULL`, "s.id", starling.Page{Limit: len(statusIDs)}, ids(statusIDs))
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*starling.Item, len(items))
	for _, it := range items {
		byID[it.ID] = it
	}
	out := make([]starling.MarkedItem, 0, len(marks))
	for _, m := range marks {
		if it := byID[m.status]; it != nil {
			out = append(out, starling.MarkedItem{Cursor: m.cursor, Item: it})
		}
	}
	return out, nil
}

// PinnedStatuses reads accountID's pinned live statuses, newest first.
func (db *DB) PinnedStatuses(ctx context.Context, viewer, accountID int64) ([]*starling.Item, error) {
	return db.timeline(starling.WithViewer(ctx, viewer), "pinned statuses", `status_pins sp JOIN statuses s ON s.id = sp.status_id`,
		`sp.account_id = ?2 AND s.deleted_at IS NULL`, "sp.status_id", starling.Page{Limit: 40}, accountID)
}

// StatusAncestors returns the ids of the known statuses statusID replies
// to, up the thread, the root first; at most limit.
func (db *DB) StatusAncestors(ctx context.Context, statusID int64, limit int) ([]int64, error) {
	rows, err := db.read.QueryContext(ctx, `WITH RECURSIVE up(id, parent_uri, depth) AS (
		SELECT s.id, s.in_reply_to_uri, 0 FROM statuses s WHERE s.id = ?1
		UNION ALL
		SELECT p.id, p.in_reply_to_uri, up.depth + 1 FROM up JOIN statuses p ON p.uri = up.parent_uri
		 WHERE up.depth < ?2
	) SELECT id FROM up WHERE depth > 0 ORDER BY depth DESC`, statusID, limit)
	out, err := collect(rows, err, scanInt64)
	if err != nil {
		return nil, fmt.Errorf("sqlite: status ancestors: %w", err)
	}
	return out, nil
}

// StatusDescendants returns the ids of the replies to statusID and their
// replies, depth first as Mastodon orders them; at most limit. SQLite has
// no arrays: the path down the thread is text, each id zero-padded to the
// same width, which sorts as PostgreSQL sorts the bigint[] path.
func (db *DB) StatusDescendants(ctx context.Context, statusID int64, limit int) ([]int64, error) {
	rows, err := db.read.QueryContext(ctx, `WITH RECURSIVE down(id, uri, path, depth) AS (
		SELECT s.id, s.uri, '', 0 FROM statuses s WHERE s.id = ?1
		UNION ALL
		SELECT c.id, c.uri, down.path || printf('%020d', c.id), down.depth + 1
		  FROM down JOIN statuses c ON c.in_reply_to_uri = down.uri
		 WHERE c.deleted_at IS NULL AND down.depth < 64
	) SELECT id FROM down WHERE depth > 0 ORDER BY path LIMIT ?2`, statusID, limit)
	out, err := collect(rows, err, scanInt64)
	if err != nil {
		return nil, fmt.Errorf("sqlite: status descendants: %w", err)
	}
	return out, nil
}

// StatusActors reads a page of the accounts that favourited (favourites)
// or boosted statusID, the latest first, paged by favourite or boost.
func (db *DB) StatusActors(ctx context.Context, statusID int64, favourites bool, p starling.Page) ([]starling.ListedAccount, error) {
	from := `favourites x JOIN accounts a ON a.id = x.account_id WHERE x.status_id = ?1`
	if !favourites {
		from = `statuses x JOIN accounts a ON a.id = x.account_id WHERE x.reblog_of_id = ?1 AND x.deleted_at IS NULL`
	}
	return db.listedAccounts(ctx, "status actors", "x.id", from, statusID, p)
}
