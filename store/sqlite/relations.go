package sqlite

import (
	"context"
	"fmt"
	"html"
	"strings"

	"github.com/starling-social/starling"
)

// This file holds the interactions between accounts and statuses that
// timelines depend on: boosts, favourites, blocks, mutes and domain blocks.
// Each method that changes state takes the events announcing it, so both
// commit together.

// CreateReblog stores a boost: a status row by the booster pointing at the
// boosted status, with its activity (nil for a remote boost) and events.
// When the booster already boosts that status (or, for a remote boost, the
// URI is known), it changes nothing and returns the existing boost with
// created false.
func (db *DB) CreateReblog(ctx context.Context, s *starling.Status, reblogOfID int64, act *starling.Activity, events ...starling.Event) (got *starling.Status, created bool, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `INSERT INTO statuses (id, uri, url, account_id, local, visibility, reblog_of_id, created_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING`,
			s.ID, s.URI, s.URL, s.AccountID, s.Local, s.Visibility, reblogOfID, micro(s.CreatedAt)))
		if err != nil {
			return err
		}
		if n == 0 {
			var id int64
			err := t.QueryRowContext(ctx, `SELECT id FROM statuses WHERE uri = ?1
				OR (account_id = ?2 AND reblog_of_id = ?3 AND deleted_at IS NULL) LIMIT 1`,
				s.URI, s.AccountID, reblogOfID).Scan(&id)
			if err != nil {
				return err
			}
			got = &starling.Status{ID: id}
			return nil
		}
		got, created = s, true
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: create reblog of %d: %w", reblogOfID, err)
	}
	return got, created, nil
}

// LiveReblog returns accountID's live boost of statusID.
func (db *DB) LiveReblog(ctx context.Context, accountID, statusID int64) (*starling.Status, error) {
	return db.statusWhere(ctx, "reblog", `s.account_id = ?1 AND s.reblog_of_id = ?2 AND s.deleted_at IS NULL`, accountID, statusID)
}

// DeleteReblog tombstones the boost id (a status of accountID) and stores
// the activity and events with it. It reports whether a live boost went.
func (db *DB) DeleteReblog(ctx context.Context, id, accountID int64, act *starling.Activity, events ...starling.Event) (bool, error) {
	var deleted bool
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `UPDATE statuses SET deleted_at = ?3
			WHERE id = ?1 AND account_id = ?2 AND reblog_of_id IS NOT NULL AND deleted_at IS NULL`, id, accountID, nowMicro()))
		if err != nil || n == 0 {
			return err
		}
		deleted = true
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: delete reblog %d: %w", id, err)
	}
	return deleted, nil
}

// CreateFavourite stores a favourite once, with its activity (nil for a
// remote Like) and events; a second favourite of the same status, or a
// replayed Like, changes nothing and reports false.
func (db *DB) CreateFavourite(ctx context.Context, f *starling.Favourite, act *starling.Activity, events ...starling.Event) (bool, error) {
	var created bool
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `INSERT INTO favourites (id, account_id, status_id, uri, emoji) VALUES (?1, ?2, ?3, ?4, ?5)
			ON CONFLICT DO NOTHING`, f.ID, f.AccountID, f.StatusID, f.URI, nullIfEmpty(f.Emoji)))
		if err != nil || n == 0 {
			return err
		}
		created = true
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: create favourite: %w", err)
	}
	return created, nil
}

// FavouriteOf returns accountID's favourite of statusID.
func (db *DB) FavouriteOf(ctx context.Context, accountID, statusID int64) (*starling.Favourite, error) {
	var f starling.Favourite
	err := db.read.QueryRowContext(ctx, `SELECT id, account_id, status_id, uri, coalesce(emoji, '') FROM favourites
		WHERE account_id = ?1 AND status_id = ?2`, accountID, statusID).Scan(&f.ID, &f.AccountID, &f.StatusID, &f.URI, &f.Emoji)
	if notFound(err) {
		return nil, fmt.Errorf("sqlite: favourite: %w", starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: favourite: %w", err)
	}
	return &f, nil
}

// DeleteFavourite removes a favourite by its id (or by its URI, for a
// remote Undo, when id is 0) made by accountID, storing act and events with
// it. It reports whether one was removed.
func (db *DB) DeleteFavourite(ctx context.Context, id int64, uri string, accountID int64, act *starling.Activity, events ...starling.Event) (bool, error) {
	var deleted bool
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `DELETE FROM favourites WHERE (id = ?1 OR (?1 = 0 AND uri = ?2)) AND account_id = ?3`,
			id, uri, accountID))
		if err != nil || n == 0 {
			return err
		}
		deleted = true
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: delete favourite: %w", err)
	}
	return deleted, nil
}

// CreateBlock stores a block and ends the follows between the two accounts
// in both directions, as Mastodon does, with act (nil when none is sent)
// and events. A repeated block changes nothing and reports false.
func (db *DB) CreateBlock(ctx context.Context, b *starling.Block, act *starling.Activity, events ...starling.Event) (bool, error) {
	var created bool
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `INSERT INTO blocks (account_id, target_account_id, uri) VALUES (?1, ?2, ?3)
			ON CONFLICT DO NOTHING`, b.AccountID, b.TargetAccountID, b.URI))
		if err != nil || n == 0 {
			return err
		}
		created = true
		if _, err := t.ExecContext(ctx, `DELETE FROM follows WHERE (follower_id = ?1 AND followee_id = ?2)
			OR (follower_id = ?2 AND followee_id = ?1)`, b.AccountID, b.TargetAccountID); err != nil {
			return err
		}
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: create block: %w", err)
	}
	return created, nil
}

// BlockBetween returns accountID's block of targetID.
func (db *DB) BlockBetween(ctx context.Context, accountID, targetID int64) (*starling.Block, error) {
	b := starling.Block{AccountID: accountID, TargetAccountID: targetID}
	err := db.read.QueryRowContext(ctx, `SELECT uri FROM blocks WHERE account_id = ?1 AND target_account_id = ?2`,
		accountID, targetID).Scan(&b.URI)
	if notFound(err) {
		return nil, fmt.Errorf("sqlite: block: %w", starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: block: %w", err)
	}
	return &b, nil
}

// DeleteBlock removes accountID's block of targetID, with act and events.
func (db *DB) DeleteBlock(ctx context.Context, accountID, targetID int64, act *starling.Activity, events ...starling.Event) (bool, error) {
	return db.deleteRelation(ctx, "blocks", accountID, targetID, act, events...)
}

// CreateMute stores accountID's mute of targetID with events; a repeated
// mute changes nothing and reports false.
func (db *DB) CreateMute(ctx context.Context, accountID, targetID int64, events ...starling.Event) (bool, error) {
	var created bool
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `INSERT INTO mutes (account_id, target_account_id) VALUES (?1, ?2)
			ON CONFLICT DO NOTHING`, accountID, targetID))
		if err != nil || n == 0 {
			return err
		}
		created = true
		return appendEvents(ctx, t, events...)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: create mute: %w", err)
	}
	return created, nil
}

// DeleteMute removes accountID's mute of targetID.
func (db *DB) DeleteMute(ctx context.Context, accountID, targetID int64) (bool, error) {
	return db.deleteRelation(ctx, "mutes", accountID, targetID, nil)
}

func (db *DB) deleteRelation(ctx context.Context, table string, accountID, targetID int64, act *starling.Activity, events ...starling.Event) (bool, error) {
	var deleted bool
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `DELETE FROM `+table+` WHERE account_id = ?1 AND target_account_id = ?2`, accountID, targetID))
		if err != nil || n == 0 {
			return err
		}
		deleted = true
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: delete from %s: %w", table, err)
	}
	return deleted, nil
}

// CreateDomainBlock stores accountID's block of a whole domain, with events.
func (db *DB) CreateDomainBlock(ctx context.Context, accountID int64, domain string, events ...starling.Event) (bool, error) {
	var created bool
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `INSERT INTO domain_blocks (account_id, domain) VALUES (?1, lower(?2))
			ON CONFLICT DO NOTHING`, accountID, domain))
		if err != nil || n == 0 {
			return err
		}
		created = true
		return appendEvents(ctx, t, events...)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: create domain block: %w", err)
	}
	return created, nil
}

// DeleteDomainBlock removes accountID's block of domain.
func (db *DB) DeleteDomainBlock(ctx context.Context, accountID int64, domain string) error {
	if _, err := db.exec(ctx, `DELETE FROM domain_blocks WHERE account_id = ?1 AND domain = lower(?2)`, accountID, domain); err != nil {
		return fmt.Errorf("sqlite: delete domain block: %w", err)
	}
	return nil
}

// DomainBlocks lists the domains accountID blocks.
func (db *DB) DomainBlocks(ctx context.Context, accountID int64) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT domain FROM domain_blocks WHERE account_id = ?1 ORDER BY domain`, accountID)
	out, err := collect(rows, err, scanString)
	if err != nil {
		return nil, fmt.Errorf("sqlite: domain blocks: %w", err)
	}
	return out, nil
}

// FiltersOf returns viewer's block and mute flags toward target.
func (db *DB) FiltersOf(ctx context.Context, viewer int64, target *starling.Account) (starling.Filters, error) {
	var f starling.Filters
	err := db.read.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM blocks WHERE account_id = ?1 AND target_account_id = ?2),
		EXISTS (SELECT 1 FROM blocks WHERE account_id = ?2 AND target_account_id = ?1),
		EXISTS (SELECT 1 FROM mutes WHERE account_id = ?1 AND target_account_id = ?2),
		EXISTS (SELECT 1 FROM domain_blocks WHERE account_id = ?1 AND domain = lower(?3) AND ?3 <> '')`,
		viewer, target.ID, target.Domain).Scan(&f.Blocking, &f.BlockedBy, &f.Muting, &f.DomainBlocking)
	if err != nil {
		return f, fmt.Errorf("sqlite: filters of %d: %w", viewer, err)
	}
	return f, nil
}

// StatusMeta returns a live status's indexing data.
func (db *DB) StatusMeta(ctx context.Context, id int64) (*starling.StatusMeta, error) {
	var m starling.StatusMeta
	var source *string
	err := db.read.QueryRowContext(ctx, `SELECT s.id, s.account_id, coalesce(s.reblog_of_id, 0), coalesce(o.account_id, 0),
		s.local, s.content, s.visibility, s.source_text, s.mentions, s.hashtags
		FROM statuses s LEFT JOIN statuses o ON o.id = s.reblog_of_id
		WHERE s.id = ?1 AND s.deleted_at IS NULL`, id).
		Scan(&m.ID, &m.AccountID, &m.ReblogOfID, &m.ReblogAccountID, &m.Local, &m.Content, &m.Visibility, &source,
			jsonOf(&m.Mentions), jsonOf(&m.Hashtags))
	if notFound(err) {
		return nil, fmt.Errorf("sqlite: status meta %d: %w", id, starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: status meta %d: %w", id, err)
	}
	if m.Local && source != nil {
		// Escaped, since it is read as HTML: "<3 @bob >" is text.
		m.Content = html.EscapeString(*source)
	}
	return &m, nil
}

// IndexStatus stores a status's hashtags and mentions, once.
func (db *DB) IndexStatus(ctx context.Context, statusID int64, tags []string, mentions []int64) error {
	if err := db.inTx(ctx, func(t *tx) error { return indexStatus(ctx, t, statusID, tags, mentions) }); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

func indexStatus(ctx context.Context, t *tx, statusID int64, tags []string, mentions []int64) error {
	if len(tags) > 0 {
		if _, err := t.ExecContext(ctx, `INSERT INTO status_tags (tag, status_id)
			SELECT DISTINCT lower(value), ?2 FROM json_each(?1) WHERE true ON CONFLICT DO NOTHING`, strs(tags), statusID); err != nil {
			return fmt.Errorf("index tags of %d: %w", statusID, err)
		}
	}
	if len(mentions) > 0 {
		if _, err := t.ExecContext(ctx, `INSERT INTO status_mentions (status_id, account_id)
			SELECT DISTINCT ?2, value FROM json_each(?1) WHERE true ON CONFLICT DO NOTHING`, ids(mentions), statusID); err != nil {
			return fmt.Errorf("index mentions of %d: %w", statusID, err)
		}
	}
	return nil
}

// StatusTags returns a status's hashtags.
func (db *DB) StatusTags(ctx context.Context, statusID int64) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT tag FROM status_tags WHERE status_id = ?1 ORDER BY tag`, statusID)
	out, err := collect(rows, err, scanString)
	if err != nil {
		return nil, fmt.Errorf("sqlite: status tags: %w", err)
	}
	return out, nil
}

// AccountIDsByMention resolves mentions to account ids: acct forms
// (username with domain, empty for local) and actor URIs or profile URLs.
// Unknown ones are left out.
func (db *DB) AccountIDsByMention(ctx context.Context, usernames, domains, uris []string) ([]int64, error) {
	type acct struct {
		U string `json:"u"`
		D string `json:"d"`
	}
	accts := make([]acct, 0, len(usernames))
	for i := range usernames {
		if i < len(domains) {
			domains[i] = strings.ToLower(domains[i])
			accts = append(accts, acct{usernames[i], domains[i]})
		}
	}
	rows, err := db.read.QueryContext(ctx, `SELECT a.id FROM accounts a
		JOIN json_each(?1) m
		  ON lower(a.username) = lower(json_extract(m.value, '$.u')) AND lower(coalesce(a.domain, '')) = json_extract(m.value, '$.d')
		UNION
		SELECT a.id FROM accounts a WHERE a.uri IN (SELECT value FROM json_each(?2))
		   OR (a.url <> '' AND a.url IN (SELECT value FROM json_each(?2)))`, jsonText(accts), strs(uris))
	out, err := collect(rows, err, scanInt64)
	if err != nil {
		return nil, fmt.Errorf("sqlite: accounts by mention: %w", err)
	}
	return out, nil
}

// DeleteRemoteAccount tombstones every status of a remote account and ends
// its follows, appending events with it (an actor's Delete of itself). It
// reports whether the account was known.
func (db *DB) DeleteRemoteAccount(ctx context.Context, uri string, events func(accountID int64) ([]starling.Event, error)) (bool, error) {
	var found bool
	err := db.inTx(ctx, func(t *tx) error {
		var id int64
		err := t.QueryRowContext(ctx, `SELECT id FROM accounts WHERE uri = ?1 AND domain IS NOT NULL`, uri).Scan(&id)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if _, err := t.ExecContext(ctx, `UPDATE statuses SET deleted_at = ?2, content = '', spoiler_text = ''
			WHERE account_id = ?1 AND deleted_at IS NULL`, id, nowMicro()); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, `DELETE FROM follows WHERE follower_id = ?1 OR followee_id = ?1`, id); err != nil {
			return err
		}
		evs, err := events(id)
		if err != nil {
			return err
		}
		return appendEvents(ctx, t, evs...)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: delete remote account %s: %w", uri, err)
	}
	return found, nil
}
