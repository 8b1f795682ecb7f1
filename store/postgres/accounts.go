package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/starling-social/starling"
)

const accountColumns = `a.id, a.username, coalesce(a.domain, ''), a.display_name, a.note, a.uri, a.url,
	a.inbox_url, a.shared_inbox_url, a.outbox_url, a.followers_url, a.following_url,
	a.key_id, a.public_key_pem, a.locked, a.bot, a.fields, a.created_at,
	coalesce(a.fetched_at, 'epoch'::timestamptz), coalesce(a.ed25519_key_id, ''), coalesce(a.ed25519_public_key, ''),
	a.discoverable, a.indexable, a.avatar_url, a.header_url`

// accountDest returns the scan destinations of accountColumns, in order.
func accountDest(a *starling.Account) []any {
	return []any{&a.ID, &a.Username, &a.Domain, &a.DisplayName, &a.Note, &a.URI, &a.URL,
		&a.InboxURL, &a.SharedInboxURL, &a.OutboxURL, &a.FollowersURL, &a.FollowingURL,
		&a.KeyID, &a.PublicKeyPEM, &a.Locked, &a.Bot, &a.Fields, &a.CreatedAt, &a.FetchedAt,
		&a.Ed25519KeyID, &a.Ed25519PublicKey, &a.Discoverable, &a.Indexable, &a.AvatarURL, &a.HeaderURL}
}

// accountScanned fixes up what SQL cannot say directly.
func accountScanned(a *starling.Account) {
	if a.FetchedAt.Unix() == 0 {
		a.FetchedAt = time.Time{}
	}
	if a.Fields == nil {
		a.Fields = []starling.Field{}
	}
}

// fieldsArg is a.Fields as the fields column takes it: a nil slice would
// be encoded as SQL NULL, which the column refuses.
func fieldsArg(a *starling.Account) []starling.Field {
	if a.Fields == nil {
		return []starling.Field{}
	}
	return a.Fields
}

func scanAccount(row pgx.Row) (*starling.Account, error) {
	var a starling.Account
	err := row.Scan(accountDest(&a)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, starling.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	accountScanned(&a)
	return &a, nil
}

// CreateLocalAccount stores a new local account and its user credentials.
// It returns ErrConflict when the username or email is taken.
func (db *DB) CreateLocalAccount(ctx context.Context, a *starling.Account, email, passwordHash string) error {
	if a.ID == 0 {
		a.ID = starling.NewID(time.Now())
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := insertAccount(ctx, tx, a); err != nil {
			return err
		}
		if email == "" {
			return nil // the instance actor has no user
		}
		_, err := tx.Exec(ctx, `INSERT INTO users (account_id, email, password_hash) VALUES ($1, $2, $3)`,
			a.ID, email, passwordHash)
		return err
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("create account %q: %w", a.Username, starling.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create account %q: %w", a.Username, err)
	}
	return nil
}

func insertAccount(ctx context.Context, tx pgx.Tx, a *starling.Account) error {
	var domain any
	if a.Domain != "" {
		domain = a.Domain
	}
	_, err := tx.Exec(ctx, `INSERT INTO accounts (id, username, domain, display_name, note, uri, url,
		inbox_url, shared_inbox_url, outbox_url, followers_url, following_url, key_id,
		public_key_pem, private_key_pem, locked, bot, fields,
		ed25519_key_id, ed25519_public_key, ed25519_private_key_pem, discoverable, indexable)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23)`,
		a.ID, a.Username, domain, a.DisplayName, a.Note, a.URI, a.URL,
		a.InboxURL, a.SharedInboxURL, a.OutboxURL, a.FollowersURL, a.FollowingURL, a.KeyID,
		a.PublicKeyPEM, nullIfEmpty(a.PrivateKeyPEM), a.Locked, a.Bot, fieldsArg(a),
		nullIfEmpty(a.Ed25519KeyID), nullIfEmpty(a.Ed25519PublicKey), nullIfEmpty(a.Ed25519PrivateKeyPEM),
		a.Discoverable, a.Indexable)
	return err
}

// UpsertRemoteAccount stores a freshly fetched remote actor, keyed by its
// URI, and returns the stored row (with the id of an earlier fetch).
func (db *DB) UpsertRemoteAccount(ctx context.Context, a *starling.Account) (*starling.Account, error) {
	if a.Domain == "" {
		return nil, fmt.Errorf("upsert remote account %s: no domain", a.URI)
	}
	row := db.pool.QueryRow(ctx, `INSERT INTO accounts AS a (id, username, domain, display_name, note, uri, url,
		inbox_url, shared_inbox_url, outbox_url, followers_url, following_url, key_id,
		public_key_pem, locked, bot, fields, fetched_at, ed25519_key_id, ed25519_public_key, discoverable, indexable,
		avatar_url, header_url)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17, now(), $18, $19, $20, $21, $22, $23)
		ON CONFLICT (uri) DO UPDATE SET username = EXCLUDED.username, display_name = EXCLUDED.display_name,
			note = EXCLUDED.note, url = EXCLUDED.url, inbox_url = EXCLUDED.inbox_url,
			shared_inbox_url = EXCLUDED.shared_inbox_url, outbox_url = EXCLUDED.outbox_url,
			followers_url = EXCLUDED.followers_url, following_url = EXCLUDED.following_url,
			key_id = EXCLUDED.key_id, public_key_pem = EXCLUDED.public_key_pem,
			locked = EXCLUDED.locked, bot = EXCLUDED.bot, fields = EXCLUDED.fields, fetched_at = now(),
			ed25519_key_id = EXCLUDED.ed25519_key_id, ed25519_public_key = EXCLUDED.ed25519_public_key,
			discoverable = EXCLUDED.discoverable, indexable = EXCLUDED.indexable,
			avatar_url = EXCLUDED.avatar_url, header_url = EXCLUDED.header_url
		WHERE a.domain IS NOT NULL
		RETURNING `+accountColumns,
		starling.NewID(time.Now()), a.Username, a.Domain, a.DisplayName, a.Note, a.URI, a.URL,
		a.InboxURL, a.SharedInboxURL, a.OutboxURL, a.FollowersURL, a.FollowingURL, a.KeyID,
		a.PublicKeyPEM, a.Locked, a.Bot, fieldsArg(a), nullIfEmpty(a.Ed25519KeyID), nullIfEmpty(a.Ed25519PublicKey),
		a.Discoverable, a.Indexable, a.AvatarURL, a.HeaderURL)
	got, err := scanAccount(row)
	if errors.Is(err, starling.ErrNotFound) || isUniqueViolation(err) {
		// A local account with that URI, or another actor already holding
		// user@domain: a remote document may not take either over.
		return nil, fmt.Errorf("upsert remote account %s: %w", a.URI, starling.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("upsert remote account %s: %w", a.URI, err)
	}
	return got, nil
}

func (db *DB) accountWhere(ctx context.Context, what, where string, args ...any) (*starling.Account, error) {
	a, err := scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts a WHERE `+where, args...))
	if err != nil {
		return nil, fmt.Errorf("account by %s: %w", what, err)
	}
	return a, nil
}

// SigningKey returns the key id and private key (PEM) a local account signs
// with. It is the one read of private_key_pem: account reads leave the key
// out, so it is loaded only where something is signed. It returns
// ENOTFOUND when there is no such account or it has no key (a remote one).
func (db *DB) SigningKey(ctx context.Context, accountID int64) (keyID, pem string, err error) {
	var priv *string
	err = db.pool.QueryRow(ctx, `SELECT key_id, private_key_pem FROM accounts WHERE id = $1`, accountID).Scan(&keyID, &priv)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (priv == nil || *priv == "")) {
		return "", "", fmt.Errorf("signing key of %d: %w", accountID, starling.ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("signing key of %d: %w", accountID, err)
	}
	return keyID, *priv, nil
}

// SigningKeys returns the keys a local account signs with, in one read:
// its RSA key and, when it has one, its Ed25519 key. Like SigningKey, it is
// a read of the private keys only where something is signed. It returns
// ENOTFOUND when there is no such account or it has no RSA key.
func (db *DB) SigningKeys(ctx context.Context, accountID int64) (starling.SigningKeys, error) {
	var k starling.SigningKeys
	var priv, edID, edPriv *string
	err := db.pool.QueryRow(ctx, `SELECT key_id, private_key_pem, ed25519_key_id, ed25519_private_key_pem
		FROM accounts WHERE id = $1`, accountID).Scan(&k.KeyID, &priv, &edID, &edPriv)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (priv == nil || *priv == "")) {
		return k, fmt.Errorf("signing keys of %d: %w", accountID, starling.ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("signing keys of %d: %w", accountID, err)
	}
	k.PEM = *priv
	if edID != nil && edPriv != nil {
		k.Ed25519KeyID, k.Ed25519PEM = *edID, *edPriv
	}
	return k, nil
}

// LocalAccountsWithoutEd25519Key returns the local accounts (the instance
// actor among them) that have no Ed25519 key yet.
func (db *DB) LocalAccountsWithoutEd25519Key(ctx context.Context) ([]*starling.Account, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts a
		WHERE a.domain IS NULL AND a.ed25519_private_key_pem IS NULL ORDER BY a.id`)
	if err != nil {
		return nil, fmt.Errorf("local accounts without ed25519 key: %w", err)
	}
	accounts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*starling.Account, error) {
		return scanAccount(row)
	})
	if err != nil {
		return nil, fmt.Errorf("local accounts without ed25519 key: %w", err)
	}
	return accounts, nil
}

// SetEd25519Key gives a local account its Ed25519 key, unless it has one
// already (another process may have been first; its key stands).
func (db *DB) SetEd25519Key(ctx context.Context, accountID int64, keyID, publicKey, privatePEM string) error {
	_, err := db.pool.Exec(ctx, `UPDATE accounts SET ed25519_key_id = $2, ed25519_public_key = $3,
		ed25519_private_key_pem = $4 WHERE id = $1 AND domain IS NULL AND ed25519_private_key_pem IS NULL`,
		accountID, keyID, publicKey, privatePEM)
	if err != nil {
		return fmt.Errorf("set ed25519 key of %d: %w", accountID, err)
	}
	return nil
}

// RotateEd25519Key replaces a local account's Ed25519 key pair (its id
// stays) and records act, the Update of the actor that announces it, with
// its events, in one transaction. ErrNotFound when the account is not a
// local one with an Ed25519 key.
func (db *DB) RotateEd25519Key(ctx context.Context, accountID int64, publicKey, privatePEM string, act *starling.Activity, events ...starling.Event) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET ed25519_public_key = $2, ed25519_private_key_pem = $3
			WHERE id = $1 AND domain IS NULL AND ed25519_private_key_pem IS NOT NULL`, accountID, publicKey, privatePEM)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return starling.ErrNotFound
		}
		return recordActivity(ctx, tx, act, events)
	})
	if err != nil {
		return fmt.Errorf("rotate ed25519 key of %d: %w", accountID, err)
	}
	return nil
}

// AccountByID returns ErrNotFound when there is no such account.
func (db *DB) AccountByID(ctx context.Context, id int64) (*starling.Account, error) {
	return db.accountWhere(ctx, "id", `a.id = $1`, id)
}

// AccountByURI returns ErrNotFound when no account has that ActivityPub id.
func (db *DB) AccountByURI(ctx context.Context, uri string) (*starling.Account, error) {
	return db.accountWhere(ctx, "uri", `a.uri = $1`, uri)
}

// AccountByKeyID returns the account whose public key (RSA or Ed25519) has
// that id.
func (db *DB) AccountByKeyID(ctx context.Context, keyID string) (*starling.Account, error) {
	return db.accountWhere(ctx, "key id", `a.key_id = $1 OR a.ed25519_key_id = $1`, keyID)
}

// AccountByAcct finds user (domain empty) or user@domain, case-insensitively.
func (db *DB) AccountByAcct(ctx context.Context, username, domain string) (*starling.Account, error) {
	return db.accountWhere(ctx, "acct", `lower(a.username) = lower($1) AND lower(coalesce(a.domain, '')) = lower($2)`, username, domain)
}

// AccountStats counts an account's accepted followers and follows and its statuses.
func (db *DB) AccountStats(ctx context.Context, id int64) (starling.AccountStats, error) {
	var s starling.AccountStats
	var last *time.Time
	err := db.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM follows WHERE followee_id = $1 AND accepted),
		(SELECT count(*) FROM follows WHERE follower_id = $1 AND accepted),
		(SELECT count(*) FROM statuses WHERE account_id = $1 AND deleted_at IS NULL),
		(SELECT max(created_at) FROM statuses WHERE account_id = $1 AND deleted_at IS NULL)`, id).
		Scan(&s.Followers, &s.Following, &s.Statuses, &last)
	if err != nil {
		return s, fmt.Errorf("account stats %d: %w", id, err)
	}
	if last != nil {
		s.LastStatusAt = *last
	}
	return s, nil
}

// CreateAccessToken stores the SHA-256 of a bearer token for an account.
func (db *DB) CreateAccessToken(ctx context.Context, tokenSHA256 []byte, accountID int64, scopes string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO access_tokens (token_sha256, account_id, scopes) VALUES ($1, $2, $3)`,
		tokenSHA256, accountID, scopes)
	if err != nil {
		return fmt.Errorf("create access token: %w", err)
	}
	return nil
}

// AccountByToken returns the account and scopes of an unrevoked token.
func (db *DB) AccountByToken(ctx context.Context, tokenSHA256 []byte) (*starling.Account, string, error) {
	var scopes string
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT account_id, scopes FROM access_tokens
		WHERE token_sha256 = $1 AND revoked_at IS NULL`, tokenSHA256).Scan(&id, &scopes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", fmt.Errorf("account by token: %w", starling.ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("account by token: %w", err)
	}
	a, err := db.AccountByID(ctx, id)
	return a, scopes, err
}

// UpdateLocalProfile stores a local account's new profile (display name,
// note, flags, fields) and its user's posting preferences, with the
// Update activity that federates them and its events, in one transaction.
// starling.ErrNotFound when a is not a local user's account.
func (db *DB) UpdateLocalProfile(ctx context.Context, a *starling.Account, prefs starling.Preferences, act *starling.Activity, events ...starling.Event) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET display_name = $2, note = $3, locked = $4, bot = $5,
			discoverable = $6, indexable = $7, fields = $8, avatar_url = $9, header_url = $10
			WHERE id = $1 AND domain IS NULL AND EXISTS (SELECT 1 FROM users WHERE account_id = $1)`,
			a.ID, a.DisplayName, a.Note, a.Locked, a.Bot, a.Discoverable, a.Indexable, fieldsArg(a), a.AvatarURL, a.HeaderURL)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return starling.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET preferences = $2 WHERE account_id = $1`, a.ID, prefs); err != nil {
			return err
		}
		return recordActivity(ctx, tx, act, events)
	})
	if err != nil {
		return fmt.Errorf("update profile of account %d: %w", a.ID, err)
	}
	return nil
}

// Preferences returns a local user's posting preferences.
// starling.ErrNotFound when the account is no local user's.
func (db *DB) Preferences(ctx context.Context, accountID int64) (starling.Preferences, error) {
	var p starling.Preferences
	err := db.pool.QueryRow(ctx, `SELECT preferences FROM users WHERE account_id = $1`, accountID).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("preferences of account %d: %w", accountID, err)
	}
	return p, nil
}
