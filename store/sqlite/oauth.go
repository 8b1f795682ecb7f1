package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/starling-social/starling"
)

const applicationColumns = `a.id, a.name, a.website, a.redirect_uris, a.scopes, a.client_id, a.client_secret_sha256, a.created_at`

func scanApplication(row scanner) (*starling.OAuthApplication, error) {
	var app starling.OAuthApplication
	var uris string
	err := row.Scan(&app.ID, &app.Name, &app.Website, &uris, &app.Scopes, &app.ClientID, &app.ClientSecretSHA256, ts(&app.CreatedAt))
	if notFound(err) {
		return nil, starling.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	app.RedirectURIs = splitLines(uris)
	return &app, nil
}

func splitLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// CreateOAuthApplication stores app, setting its ID and CreatedAt.
func (db *DB) CreateOAuthApplication(ctx context.Context, app *starling.OAuthApplication) error {
	if app.ID == 0 {
		app.ID = starling.NewID(time.Now())
	}
	err := db.inTx(ctx, func(t *tx) error {
		return t.QueryRowContext(ctx, `INSERT INTO oauth_applications
		(id, name, website, redirect_uris, scopes, client_id, client_secret_sha256)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING created_at`,
			app.ID, app.Name, app.Website, strings.Join(app.RedirectURIs, "\n"), app.Scopes, app.ClientID, app.ClientSecretSHA256).
			Scan(ts(&app.CreatedAt))
	})
	if err != nil {
		return fmt.Errorf("sqlite: create oauth application: %w", err)
	}
	return nil
}

// OAuthApplicationByClientID returns ErrNotFound for an unknown client_id.
func (db *DB) OAuthApplicationByClientID(ctx context.Context, clientID string) (*starling.OAuthApplication, error) {
	app, err := scanApplication(db.read.QueryRowContext(ctx,
		`SELECT `+applicationColumns+` FROM oauth_applications a WHERE a.client_id = ?1`, clientID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: oauth application by client id: %w", err)
	}
	return app, nil
}

// OAuthApplicationByToken returns the application an unrevoked token was
// issued to, user token or client_credentials token. It returns
// ErrNotFound for an unknown or revoked token and for a token made by
// `starling admin token`, which belongs to no application.
func (db *DB) OAuthApplicationByToken(ctx context.Context, tokenSHA256 []byte) (*starling.OAuthApplication, error) {
	app, err := scanApplication(db.read.QueryRowContext(ctx, `SELECT `+applicationColumns+` FROM oauth_applications a
		WHERE a.id = (SELECT application_id FROM access_tokens WHERE token_sha256 = ?1 AND revoked_at IS NULL)
		   OR a.id = (SELECT application_id FROM oauth_app_tokens WHERE token_sha256 = ?1 AND revoked_at IS NULL)
		LIMIT 1`, tokenSHA256))
	if err != nil {
		return nil, fmt.Errorf("sqlite: oauth application by token: %w", err)
	}
	return app, nil
}

// CreateAuthorizationCode stores a code the authorize step issued, and
// forgets codes expired for an hour (a replay of one is refused as unknown).
func (db *DB) CreateAuthorizationCode(ctx context.Context, c *starling.OAuthCode) error {
	err := db.inTx(ctx, func(t *tx) error {
		if _, err := t.ExecContext(ctx, `DELETE FROM oauth_codes WHERE expires_at < ?1`, time.Now().Add(-time.Hour).UnixMicro()); err != nil {
			return err
		}
		_, err := t.ExecContext(ctx, `INSERT INTO oauth_codes (code_sha256, application_id, account_id, redirect_uri,
		scopes, code_challenge, code_challenge_method, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
			c.CodeSHA256, c.ApplicationID, c.AccountID, c.RedirectURI, c.Scopes, c.CodeChallenge, c.CodeChallengeMethod, micro(c.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create authorization code: %w", err)
	}
	return nil
}

// ExchangeAuthorizationCode redeems a code for the access token whose
// SHA-256 is tokenSHA256, in one transaction: check (client, redirect URI,
// PKCE) sees the code first and its error is returned as is, with the code
// left unused. It returns ErrNotFound for an unknown or expired code and
// ErrCodeUsed for one already exchanged, after revoking the tokens that
// exchange issued (RFC 6749 section 4.1.2).
func (db *DB) ExchangeAuthorizationCode(ctx context.Context, codeSHA256 []byte, check func(*starling.OAuthCode) error, tokenSHA256 []byte) (*starling.OAuthCode, error) {
	var c starling.OAuthCode
	var used bool
	err := db.inTx(ctx, func(t *tx) error {
		var usedAt time.Time
		err := t.QueryRowContext(ctx, `SELECT code_sha256, application_id, account_id, redirect_uri, scopes,
			code_challenge, code_challenge_method, expires_at, used_at
			FROM oauth_codes WHERE code_sha256 = ?1`, codeSHA256).
			Scan(&c.CodeSHA256, &c.ApplicationID, &c.AccountID, &c.RedirectURI, &c.Scopes,
				&c.CodeChallenge, &c.CodeChallengeMethod, ts(&c.ExpiresAt), ts(&usedAt))
		if notFound(err) {
			return starling.ErrNotFound
		}
		if err != nil {
			return err
		}
		now := nowMicro()
		if !usedAt.IsZero() {
			used = true
			_, err := t.ExecContext(ctx, `UPDATE access_tokens SET revoked_at = ?2
				WHERE code_sha256 = ?1 AND revoked_at IS NULL`, codeSHA256, now)
			return err // commit the revocation
		}
		if time.Now().After(c.ExpiresAt) {
			return starling.ErrNotFound
		}
		if err := check(&c); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, `UPDATE oauth_codes SET used_at = ?2 WHERE code_sha256 = ?1`, codeSHA256, now); err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, `INSERT INTO access_tokens (token_sha256, account_id, scopes, application_id, code_sha256)
			VALUES (?1, ?2, ?3, ?4, ?5)`, tokenSHA256, c.AccountID, c.Scopes, c.ApplicationID, codeSHA256)
		return err
	})
	if used {
		return nil, fmt.Errorf("sqlite: exchange authorization code: %w", starling.ErrCodeUsed)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: exchange authorization code: %w", err)
	}
	return &c, nil
}

// CreateAppToken stores a client_credentials token, which acts for the
// application and no account.
func (db *DB) CreateAppToken(ctx context.Context, tokenSHA256 []byte, applicationID int64, scopes string) error {
	_, err := db.exec(ctx, `INSERT INTO oauth_app_tokens (token_sha256, application_id, scopes) VALUES (?1, ?2, ?3)`,
		tokenSHA256, applicationID, scopes)
	if err != nil {
		return fmt.Errorf("sqlite: create app token: %w", err)
	}
	return nil
}

// AppTokenScopes returns the scopes of an unrevoked client_credentials
// token, or ErrNotFound.
func (db *DB) AppTokenScopes(ctx context.Context, tokenSHA256 []byte) (string, error) {
	var scopes string
	err := db.read.QueryRowContext(ctx, `SELECT scopes FROM oauth_app_tokens WHERE token_sha256 = ?1 AND revoked_at IS NULL`,
		tokenSHA256).Scan(&scopes)
	if notFound(err) {
		return "", fmt.Errorf("sqlite: app token: %w", starling.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: app token: %w", err)
	}
	return scopes, nil
}

// HasMatchingToken reports whether the account holds an unrevoked token of
// the application with exactly these scopes (in any order), as Doorkeeper's
// matching_token_for. SQLite has no arrays: the scope sets are compared
// here, split on single spaces as PostgreSQL's string_to_array does.
func (db *DB) HasMatchingToken(ctx context.Context, applicationID, accountID int64, scopes string) (bool, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT scopes FROM access_tokens
		WHERE application_id = ?1 AND account_id = ?2 AND revoked_at IS NULL`, applicationID, accountID)
	held, err := collect(rows, err, scanString)
	if err != nil {
		return false, fmt.Errorf("sqlite: matching token: %w", err)
	}
	want := sortedScopes(scopes)
	for _, h := range held {
		if slices.Equal(sortedScopes(h), want) {
			return true, nil
		}
	}
	return false, nil
}

func sortedScopes(s string) []string {
	out := strings.Split(s, " ")
	slices.Sort(out)
	return out
}

// RevokeOAuthToken revokes a token, user or client_credentials, if the
// application was the one it was issued to. It returns the id of the
// application the token was issued to (0 for a token of `starling admin
// token`), revoked or not, or ErrNotFound for an unknown token.
func (db *DB) RevokeOAuthToken(ctx context.Context, tokenSHA256 []byte, applicationID int64) (owner int64, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		err := t.QueryRowContext(ctx, `SELECT coalesce(application_id, 0) FROM access_tokens WHERE token_sha256 = ?1
			UNION ALL SELECT application_id FROM oauth_app_tokens WHERE token_sha256 = ?1 LIMIT 1`, tokenSHA256).Scan(&owner)
		if notFound(err) {
			return starling.ErrNotFound
		}
		if err != nil {
			return err
		}
		now := nowMicro()
		if _, err := t.ExecContext(ctx, `UPDATE access_tokens SET revoked_at = ?3
			WHERE token_sha256 = ?1 AND application_id = ?2 AND revoked_at IS NULL`, tokenSHA256, applicationID, now); err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, `UPDATE oauth_app_tokens SET revoked_at = ?3
			WHERE token_sha256 = ?1 AND application_id = ?2 AND revoked_at IS NULL`, tokenSHA256, applicationID, now)
		return err
	})
	if errors.Is(err, starling.ErrNotFound) {
		return 0, fmt.Errorf("sqlite: revoke oauth token: %w", starling.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke oauth token: %w", err)
	}
	return owner, nil
}

// UserLogin returns the account id and bcrypt password hash of the local
// user whose username or e-mail address is login (case-insensitively). It
// returns ErrNotFound when there is none.
func (db *DB) UserLogin(ctx context.Context, login string) (accountID int64, passwordHash string, err error) {
	err = db.read.QueryRowContext(ctx, `SELECT u.account_id, u.password_hash FROM users u
		JOIN accounts a ON a.id = u.account_id
		WHERE a.domain IS NULL AND (lower(a.username) = lower(?1) OR lower(u.email) = lower(?1))
		LIMIT 1`, login).Scan(&accountID, &passwordHash)
	if notFound(err) {
		return 0, "", fmt.Errorf("sqlite: user login: %w", starling.ErrNotFound)
	}
	if err != nil {
		return 0, "", fmt.Errorf("sqlite: user login: %w", err)
	}
	return accountID, passwordHash, nil
}

// CreateWebSession stores a signed-in browser session, and forgets
// expired ones.
func (db *DB) CreateWebSession(ctx context.Context, idSHA256 []byte, accountID int64, expires time.Time) error {
	err := db.inTx(ctx, func(t *tx) error {
		if _, err := t.ExecContext(ctx, `DELETE FROM web_sessions WHERE expires_at < ?1`, nowMicro()); err != nil {
			return err
		}
		_, err := t.ExecContext(ctx, `INSERT INTO web_sessions (id_sha256, account_id, expires_at) VALUES (?1, ?2, ?3)`,
			idSHA256, accountID, micro(expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create web session: %w", err)
	}
	return nil
}

// WebSessionAccount returns the account of an unexpired session, or
// ErrNotFound.
func (db *DB) WebSessionAccount(ctx context.Context, idSHA256 []byte) (int64, error) {
	var id int64
	err := db.read.QueryRowContext(ctx, `SELECT account_id FROM web_sessions WHERE id_sha256 = ?1 AND expires_at > ?2`,
		idSHA256, nowMicro()).Scan(&id)
	if notFound(err) {
		return 0, fmt.Errorf("sqlite: web session: %w", starling.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: web session: %w", err)
	}
	return id, nil
}
