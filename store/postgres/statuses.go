package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

const statusColumns = `s.id, s.uri, s.url, s.account_id, s.local, s.content, s.spoiler_text, s.sensitive,
	s.visibility, coalesce(s.in_reply_to_uri, ''), s.created_at, coalesce(s.deleted_at, 'epoch'::timestamptz),
	coalesce(s.edited_at, 'epoch'::timestamptz),
	coalesce((SELECT p.id FROM statuses p WHERE p.uri = s.in_reply_to_uri), 0),
	coalesce((SELECT p.account_id FROM statuses p WHERE p.uri = s.in_reply_to_uri), 0),
	s.hashtags, coalesce(s.source_text, ''),
	(SELECT coalesce(json_agg(json_build_object('id', m.id, 'username', m.username, 'domain', coalesce(m.domain, ''),
		'url', m.url, 'uri', m.uri)), '[]') FROM accounts m WHERE m.uri = ANY(s.mentions)),
	(SELECT count(*) FROM statuses r WHERE r.in_reply_to_uri = s.uri AND r.deleted_at IS NULL),
	(SELECT count(*) FROM statuses b WHERE b.reblog_of_id = s.id AND b.deleted_at IS NULL),
	(SELECT count(*) FROM favourites f WHERE f.status_id = s.id),
	coalesce(s.language, ''), s.emojis, s.attachments`

func scanStatusWithAccount(row pgx.Row) (*starling.Status, error) {
	var s starling.Status
	var a starling.Account
	err := row.Scan(append([]any{&s.ID, &s.URI, &s.URL, &s.AccountID, &s.Local, &s.Content, &s.SpoilerText, &s.Sensitive,
		&s.Visibility, &s.InReplyToURI, &s.CreatedAt, &s.DeletedAt, &s.EditedAt, &s.InReplyToID, &s.InReplyToAccountID,
		&s.Hashtags, &s.SourceText, &s.MentionedAccounts, &s.RepliesCount, &s.ReblogsCount, &s.FavouritesCount, &s.Language, &s.Emojis, &s.Attachments}, accountDest(&a)...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, starling.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if s.DeletedAt.Unix() == 0 {
		s.DeletedAt = time.Time{}
	}
	s.EditedAt = zeroEpoch(s.EditedAt)
	accountScanned(&a)
	s.Account = &a
	return &s, nil
}

const statusJoin = `SELECT ` + statusColumns + `, ` + accountColumns + ` FROM statuses s JOIN accounts a ON a.id = s.account_id`

func (db *DB) statusWhere(ctx context.Context, what, where string, args ...any) (*starling.Status, error) {
	s, err := scanStatusWithAccount(db.pool.QueryRow(ctx, statusJoin+` WHERE `+where, args...))
	if err != nil {
		return nil, fmt.Errorf("status by %s: %w", what, err)
	}
	return s, nil
}

// StatusByID returns a status that is not deleted, with its author.
func (db *DB) StatusByID(ctx context.Context, id int64) (*starling.Status, error) {
	return db.statusWhere(ctx, "id", `s.id = $1 AND s.deleted_at IS NULL`, id)
}

// StatusByURI returns a status that is not deleted, with its author.
func (db *DB) StatusByURI(ctx context.Context, uri string) (*starling.Status, error) {
	return db.statusWhere(ctx, "uri", `s.uri = $1 AND s.deleted_at IS NULL`, uri)
}

func insertStatus(ctx context.Context, tx pgx.Tx, s *starling.Status) (bool, error) {
	var replyTo, source any
	if s.InReplyToURI != "" {
		replyTo = s.InReplyToURI
	}
	if s.SourceText != "" {
		source = s.SourceText
	}
	mentions, hashtags := s.Mentions, s.Hashtags
	if mentions == nil {
		mentions = []string{}
	}
	if hashtags == nil {
		hashtags = []string{}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO statuses (id, uri, url, account_id, local, content, spoiler_text,
		sensitive, visibility, in_reply_to_uri, created_at, source_text, mentions, hashtags, attachments)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) ON CONFLICT (uri) DO NOTHING`,
		s.ID, s.URI, s.URL, s.AccountID, s.Local, s.Content, s.SpoilerText, s.Sensitive,
		s.Visibility, replyTo, s.CreatedAt, source, mentions, hashtags, attachmentsOrEmpty(s.Attachments))
	if err != nil {
		return false, fmt.Errorf("insert status %s: %w", s.URI, err)
	}
	return tag.RowsAffected() == 1, nil
}

// CreateLocalStatus stores a local status, the activity that announces it,
// and the events that tell fanout and timeline, in one transaction: either
// all of them exist or none does.
func (db *DB) CreateLocalStatus(ctx context.Context, s *starling.Status, act *starling.Activity, events ...starling.Event) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if ok, err := insertStatus(ctx, tx, s); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("create status %s: %w", s.URI, starling.ErrConflict)
		}
		if err := indexStatus(ctx, tx, s.ID, s.Hashtags, s.MentionIDs); err != nil {
			return err
		}
		if err := attachMedia(ctx, tx, s); err != nil {
			return err
		}
		return recordActivity(ctx, tx, act, events)
	})
}

// DeleteLocalStatus tombstones a local status of accountID and stores its
// Delete activity and events in one transaction. It returns the status as
// it was, or ErrNotFound when there is no such live status of that account.
func (db *DB) DeleteLocalStatus(ctx context.Context, id, accountID int64, act *starling.Activity, events ...starling.Event) (*starling.Status, error) {
	var before *starling.Status
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		before, err = scanStatusWithAccount(tx.QueryRow(ctx, statusJoin+
			` WHERE s.id = $1 AND s.account_id = $2 AND s.local AND s.deleted_at IS NULL FOR UPDATE OF s`, id, accountID))
		if err != nil {
			return err
		}
		if err := tombstone(ctx, tx, id); err != nil {
			return err
		}
		return recordActivity(ctx, tx, act, events)
	})
	if err != nil {
		return nil, fmt.Errorf("delete status %d: %w", id, err)
	}
	return before, nil
}

func tombstone(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := tx.Exec(ctx, `UPDATE statuses SET deleted_at = now(), content = '', spoiler_text = '' WHERE id = $1`, id)
	return err
}

// InsertRemoteStatus stores a status received from another server, once:
// when its URI is already known (even as a tombstone) it changes nothing
// and reports false. The events are appended only for a new status.
func (db *DB) InsertRemoteStatus(ctx context.Context, s *starling.Status, events ...starling.Event) (bool, error) {
	var inserted bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if inserted, err = insertStatus(ctx, tx, s); err != nil || !inserted {
			return err
		}
		if err := insertStatusExtras(ctx, tx, s); err != nil {
			return err
		}
		return appendEvents(ctx, tx, events...)
	})
	return inserted, err
}

// DeleteRemoteStatus tombstones the status uri of accountID. When the status
// is not known yet it stores a tombstone, so a late or replayed Create cannot
// bring it back. It reports whether a live status was deleted, and appends
// the events only then.
func (db *DB) DeleteRemoteStatus(ctx context.Context, uri string, accountID int64, events ...starling.Event) (bool, error) {
	var deleted bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		var gone bool
		err := tx.QueryRow(ctx, `SELECT id, deleted_at IS NOT NULL FROM statuses
			WHERE uri = $1 AND account_id = $2 FOR UPDATE`, uri, accountID).Scan(&id, &gone)
		if errors.Is(err, pgx.ErrNoRows) {
			_, err = tx.Exec(ctx, `INSERT INTO statuses (id, uri, account_id, local, visibility, created_at, deleted_at)
				VALUES ($1, $2, $3, false, 'direct', now(), now()) ON CONFLICT (uri) DO NOTHING`,
				starling.NewID(time.Now()), uri, accountID)
			return err
		}
		if err != nil || gone {
			return err
		}
		if err := tombstone(ctx, tx, id); err != nil {
			return err
		}
		deleted = true
		return appendEvents(ctx, tx, events...)
	})
	if err != nil {
		return false, fmt.Errorf("delete remote status %s: %w", uri, err)
	}
	return deleted, nil
}

// StatusIDByURI returns the id of a status, deleted or not.
func (db *DB) StatusIDByURI(ctx context.Context, uri string) (int64, error) {
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT id FROM statuses WHERE uri = $1`, uri).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("status id by uri: %w", starling.ErrNotFound)
	}
	return id, err
}

// StatusMentionIDs returns the accounts a status mentions (status_mentions).
func (db *DB) StatusMentionIDs(ctx context.Context, statusID int64) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT account_id FROM status_mentions WHERE status_id = $1 ORDER BY account_id`, statusID)
	if err != nil {
		return nil, fmt.Errorf("mentions of %d: %w", statusID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("mentions of %d: %w", statusID, err)
	}
	return ids, nil
}

// StatusReach returns the author and visibility of a status, deleted or
// not (a tombstone keeps both): who may have seen it.
func (db *DB) StatusReach(ctx context.Context, id int64) (accountID int64, visibility string, err error) {
	err = db.pool.QueryRow(ctx, `SELECT account_id, visibility FROM statuses WHERE id = $1`, id).Scan(&accountID, &visibility)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", fmt.Errorf("reach of status %d: %w", id, starling.ErrNotFound)
	}
	if err != nil {
		return 0, "", fmt.Errorf("reach of status %d: %w", id, err)
	}
	return accountID, visibility, nil
}

// RecentLocalStatuses counts, up to limit, accountID's live statuses made
// since since, and returns the id of the oldest of them (0 when none):
// what the posting rate limit reads, shared by every api process.
func (db *DB) RecentLocalStatuses(ctx context.Context, accountID int64, since time.Time, limit int) (n int, oldest int64, err error) {
	err = db.pool.QueryRow(ctx, `SELECT count(*), coalesce(min(id), 0) FROM (SELECT id FROM statuses
		WHERE account_id = $1 AND local AND deleted_at IS NULL AND id >= $2 ORDER BY id DESC LIMIT $3) recent`,
		accountID, since.UnixMilli()<<16, limit).Scan(&n, &oldest)
	if err != nil {
		return 0, 0, fmt.Errorf("recent statuses of %d: %w", accountID, err)
	}
	return n, oldest, nil
}
