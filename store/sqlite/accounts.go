package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/starling-social/starling"
)

// accountCols is the account columns read with every account, with prefix
// (an alias and a dot, or nothing for RETURNING, which takes bare names).
func accountCols(p string) string {
	return strings.NewReplacer("@", p).Replace(`@id, @username, coalesce(@domain, ''), @display_name, @note, @uri, @url,
	@inbox_url, @shared_inbox_url, @outbox_url, @followers_url, @following_url,
	@key_id, @public_key_pem, @locked, @bot, @fields, @created_at,
	@fetched_at, coalesce(@ed25519_key_id, ''), coalesce(@ed25519_public_key, ''),
	@discoverable, @indexable, @avatar_url, @header_url`)
}

const accountColumns = `a.id, a.username, coalesce(a.domain, ''), a.display_name, a.note, a.uri, a.url,
	a.inbox_url, a.shared_inbox_url, a.outbox_url, a.followers_url, a.following_url,
	a.key_id, a.public_key_pem, a.locked, a.bot, a.fields, a.created_at,
	a.fetched_at, coalesce(a.ed25519_key_id, ''), coalesce(a.ed25519_public_key, ''),
	a.discoverable, a.indexable, a.avatar_url, a.header_url`

// accountDest returns the scan destinations of accountColumns, in order.
func accountDest(a *starling.Account) []any {
	return []any{&a.ID, &a.Username, &a.Domain, &a.DisplayName, &a.Note, &a.URI, &a.URL,
		&a.InboxURL, &a.SharedInboxURL, &a.OutboxURL, &a.FollowersURL, &a.FollowingURL,
		&a.KeyID, &a.PublicKeyPEM, &a.Locked, &a.Bot, jsonOf(&a.Fields), ts(&a.CreatedAt), ts(&a.FetchedAt),
		&a.Ed25519KeyID, &a.Ed25519PublicKey, &a.Discoverable, &a.Indexable, &a.AvatarURL, &a.HeaderURL}
}

func accountScanned(a *starling.Account) {
	if a.Fields == nil {
		a.Fields = []starling.Field{}
	}
}

func fieldsArg(a *starling.Account) string {
	if a.Fields == nil {
		return "[]"
	}
	return jsonText(a.Fields)
}

func scanAccount(row scanner) (*starling.Account, error) {
	var a starling.Account
	err := row.Scan(accountDest(&a)...)
	if notFound(err) {
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
	err := db.inTx(ctx, func(t *tx) error {
		if err := insertAccount(ctx, t, a); err != nil {
			return err
		}
		if email == "" {
			return nil // the instance actor has no user
		}
		_, err := t.ExecContext(ctx, `INSERT INTO users (account_id, email, password_hash) VALUES (?1, ?2, ?3)`,
			a.ID, email, passwordHash)
		return err
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: create account %q: %w", a.Username, starling.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create account %q: %w", a.Username, err)
	}
	return nil
}

func insertAccount(ctx context.Context, t *tx, a *starling.Account) error {
	_, err := t.ExecContext(ctx, `INSERT INTO accounts (id, username, domain, display_name, note, uri, url,
		inbox_url, shared_inbox_url, outbox_url, followers_url, following_url, key_id,
		public_key_pem, private_key_pem, locked, bot, fields,
		ed25519_key_id, ed25519_public_key, ed25519_private_key_pem, discoverable, indexable)
		VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23)`,
		a.ID, a.Username, nullIfEmpty(a.Domain), a.DisplayName, a.Note, a.URI, a.URL,
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
		return nil, fmt.Errorf("sqlite: upsert remote account %s: no domain", a.URI)
	}
	args := []any{starling.NewID(time.Now()), a.Username, a.Domain, a.DisplayName, a.Note, a.URI, a.URL,
		a.InboxURL, a.SharedInboxURL, a.OutboxURL, a.FollowersURL, a.FollowingURL, a.KeyID,
		a.PublicKeyPEM, a.Locked, a.Bot, fieldsArg(a), nullIfEmpty(a.Ed25519KeyID), nullIfEmpty(a.Ed25519PublicKey), nowMicro(),
		a.Discoverable, a.Indexable, a.AvatarURL, a.HeaderURL}
	var got *starling.Account
	err := db.inTx(ctx, func(t *tx) error {
		var err error
		got, err = scanAccount(t.QueryRowContext(ctx, `INSERT INTO accounts AS a (id, username, domain, display_name, note, uri, url,
		inbox_url, shared_inbox_url, outbox_url, followers_url, following_url, key_id,
		public_key_pem, locked, bot, fields, fetched_at, ed25519_key_id, ed25519_public_key, discoverable, indexable,
		avatar_url, header_url)
		VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?20,?18,?19,?21,?22,?23,?24)
		ON CONFLICT (uri) DO UPDATE SET username = excluded.username, display_name = excluded.display_name,
			note = excluded.note, url = excluded.url, inbox_url = excluded.inbox_url,
			shared_inbox_url = excluded.shared_inbox_url, outbox_url = excluded.outbox_url,
			followers_url = excluded.followers_url, following_url = excluded.following_url,
			key_id = excluded.key_id, public_key_pem = excluded.public_key_pem,
			locked = excluded.locked, bot = excluded.bot, fields = excluded.fields, fetched_at = ?20,
			ed25519_key_id = excluded.ed25519_key_id, ed25519_public_key = excluded.ed25519_public_key,
			discoverable = excluded.discoverable, indexable = excluded.indexable,
			avatar_url = excluded.avatar_url, header_url = excluded.header_url
		WHERE a.domain IS NOT NULL
		RETURNING `+accountCols(""), args...))
		return err
	})
	if starling.ErrorCode(err) == starling.ENOTFOUND || isUniqueViolation(err) {
		// A local account with that URI, or another actor already holding
		// user@domain: a remote document may not take either over.
		return nil, fmt.Errorf("sqlite: upsert remote account %s: %w", a.URI, starling.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: upsert remote account %s: %w", a.URI, err)
	}
	return got, nil
}

func (db *DB) accountWhere(ctx context.Context, what, where string, args ...any) (*starling.Account, error) {
	a, err := scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts a WHERE `+where, args...))
	if err != nil {
		return nil, fmt.Errorf("sqlite: account by %s: %w", what, err)
	}
	return a, nil
}

// SigningKey returns the key id and private key (PEM) a local account signs
// with. It is the one read of private_key_pem besides SigningKeys. It
// returns ENOTFOUND when there is no such account or it has no key.
func (db *DB) SigningKey(ctx context.Context, accountID int64) (keyID, pem string, err error) {
	k, err := db.SigningKeys(ctx, accountID)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: signing key of %d: %w", accountID, starling.ErrNotFound)
	}
	return k.KeyID, k.PEM, nil
}

// SigningKeys returns the keys a local account signs with, in one read:
// its RSA key and, when it has one, its Ed25519 key. It returns ENOTFOUND
// when there is no such account or it has no RSA key.
func (db *DB) SigningKeys(ctx context.Context, accountID int64) (starling.SigningKeys, error) {
	var k starling.SigningKeys
	var priv, edID, edPriv *string
	err := db.read.QueryRowContext(ctx, `SELECT key_id, private_key_pem, ed25519_key_id, ed25519_private_key_pem
		FROM accounts WHERE id = ?1`, accountID).Scan(&k.KeyID, &priv, &edID, &edPriv)
	if notFound(err) || (err == nil && (priv == nil || *priv == "")) {
		return starling.SigningKeys{}, fmt.Errorf("sqlite: signing keys of %d: %w", accountID, starling.ErrNotFound)
	}
	if err != nil {
		return starling.SigningKeys{}, fmt.Errorf("sqlite: signing keys of %d: %w", accountID, err)
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
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts a
		WHERE a.domain IS NULL AND a.ed25519_private_key_pem IS NULL ORDER BY a.id`)
	accounts, err := collect(rows, err, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("sqlite: local accounts without ed25519 key: %w", err)
	}
	return accounts, nil
}

// SetEd25519Key gives a local account its Ed25519 key, unless it has one
// already (another call may have been first; its key stands).
func (db *DB) SetEd25519Key(ctx context.Context, accountID int64, keyID, publicKey, privatePEM string) error {
	_, err := db.exec(ctx, `UPDATE accounts SET ed25519_key_id = ?2, ed25519_public_key = ?3,
		ed25519_private_key_pem = ?4 WHERE id = ?1 AND domain IS NULL AND ed25519_private_key_pem IS NULL`,
		accountID, keyID, publicKey, privatePEM)
	if err != nil {
		return fmt.Errorf("sqlite: set ed25519 key of %d: %w", accountID, err)
	}
	return nil
}

// RotateEd25519Key replaces a local account's Ed25519 key pair (its id
// stays) and records act, the Update of the actor that announces it, with
// its events, in one transaction. ErrNotFound when the account is not a
// local one with an Ed25519 key.
func (db *DB) RotateEd25519Key(ctx context.Context, accountID int64, publicKey, privatePEM string, act *starling.Activity, events ...starling.Event) error {
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `UPDATE accounts SET ed25519_public_key = ?2, ed25519_private_key_pem = ?3
			WHERE id = ?1 AND domain IS NULL AND ed25519_private_key_pem IS NOT NULL`, accountID, publicKey, privatePEM))
		if err != nil {
			return err
		}
		if n == 0 {
			return starling.ErrNotFound
		}
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return fmt.Errorf("sqlite: rotate ed25519 key of %d: %w", accountID, err)
	}
	return nil
}

// AccountByID returns ErrNotFound when there is no such account.
func (db *DB) AccountByID(ctx context.Context, id int64) (*starling.Account, error) {
	return db.accountWhere(ctx, "id", `a.id = ?1`, id)
}

// AccountByURI returns ErrNotFound when no account has that ActivityPub id.
func (db *DB) AccountByURI(ctx context.Context, uri string) (*starling.Account, error) {
	return db.accountWhere(ctx, "uri", `a.uri = ?1`, uri)
}

// AccountByKeyID returns the account whose public key (RSA or Ed25519) has
// that id.
func (db *DB) AccountByKeyID(ctx context.Context, keyID string) (*starling.Account, error) {
	return db.accountWhere(ctx, "key id", `a.key_id = ?1 OR a.ed25519_key_id = ?1`, keyID)
}

// AccountByAcct finds user (domain empty) or user@domain, case-insensitively.
func (db *DB) AccountByAcct(ctx context.Context, username, domain string) (*starling.Account, error) {
	return db.accountWhere(ctx, "acct", `lower(a.username) = lower(?1) AND lower(coalesce(a.domain, '')) = lower(?2)`, username, domain)
}

// AccountStats counts an account's accepted followers and follows and its statuses.
func (db *DB) AccountStats(ctx context.Context, id int64) (starling.AccountStats, error) {
	var s starling.AccountStats
	err := db.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM follows WHERE followee_id = ?1 AND accepted),
		(SELECT count(*) FROM follows WHERE follower_id = ?1 AND accepted),
		(SELECT count(*) FROM statuses WHERE account_id = ?1 AND deleted_at IS NULL),
		(SELECT max(created_at) FROM statuses WHERE account_id = ?1 AND deleted_at IS NULL)`, id).
		Scan(&s.Followers, &s.Following, &s.Statuses, ts(&s.LastStatusAt))
	if err != nil {
		return s, fmt.Errorf("sqlite: account stats %d: %w", id, err)
	}
	return s, nil
}

// CreateAccessToken stores the SHA-256 of a bearer token for an account.
func (db *DB) CreateAccessToken(ctx context.Context, tokenSHA256 []byte, accountID int64, scopes string) error {
	_, err := db.exec(ctx, `INSERT INTO access_tokens (token_sha256, account_id, scopes) VALUES (?1, ?2, ?3)`,
		tokenSHA256, accountID, scopes)
	if err != nil {
		return fmt.Errorf("sqlite: create access token: %w", err)
	}
	return nil
}

// AccountByToken returns the account and scopes of an unrevoked token.
func (db *DB) AccountByToken(ctx context.Context, tokenSHA256 []byte) (*starling.Account, string, error) {
	var scopes string
	var id int64
	err := db.read.QueryRowContext(ctx, `SELECT account_id, scopes FROM access_tokens
		WHERE token_sha256 = ?1 AND revoked_at IS NULL`, tokenSHA256).Scan(&id, &scopes)
	if notFound(err) {
		return nil, "", fmt.Errorf("sqlite: account by token: %w", starling.ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: account by token: %w", err)
	}
	a, err := db.AccountByID(ctx, id)
	return a, scopes, err
}

// UpdateLocalProfile stores a local account's new profile (display name,
// note, flags, fields) and its user's posting preferences, with the
// Update activity that federates them and its events, in one transaction.
// starling.ErrNotFound when a is not a local user's account.
func (db *DB) UpdateLocalProfile(ctx context.Context, a *starling.Account, prefs starling.Preferences, act *starling.Activity, events ...starling.Event) error {
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `UPDATE accounts SET display_name = ?2, note = ?3, locked = ?4, bot = ?5,
			discoverable = ?6, indexable = ?7, fields = ?8, avatar_url = ?9, header_url = ?10
			WHERE id = ?1 AND domain IS NULL AND EXISTS (SELECT 1 FROM users WHERE account_id = ?1)`,
			a.ID, a.DisplayName, a.Note, a.Locked, a.Bot, a.Discoverable, a.Indexable, fieldsArg(a), a.AvatarURL, a.HeaderURL))
		if err != nil {
			return err
		}
		if n == 0 {
			return starling.ErrNotFound
		}
		if _, err := t.ExecContext(ctx, `UPDATE users SET preferences = ?2 WHERE account_id = ?1`, a.ID, jsonText(prefs)); err != nil {
			return err
		}
		return recordActivity(ctx, t, act, events)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update profile of account %d: %w", a.ID, err)
	}
	return nil
}

// Preferences returns a local user's posting preferences.
// starling.ErrNotFound when the account is no local user's.
func (db *DB) Preferences(ctx context.Context, accountID int64) (starling.Preferences, error) {
	var p starling.Preferences
	err := db.read.QueryRowContext(ctx, `SELECT preferences FROM users WHERE account_id = ?1`, accountID).Scan(jsonOf(&p))
	if notFound(err) {
		err = starling.ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("sqlite: preferences of account %d: %w", accountID, err)
	}
	return p, nil
}
