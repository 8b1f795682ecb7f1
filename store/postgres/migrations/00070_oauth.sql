-- +goose Up

-- OAuth 2 as Mastodon serves it (issue 11). Owned by api (oauth.go).
-- Secrets, codes, tokens and session ids are stored as their SHA-256 only.

-- oauth_applications: what POST /api/v1/apps registers. redirect_uris is
-- newline-separated, as Mastodon keeps it; scopes space-separated.
CREATE TABLE oauth_applications (
    id                   bigint PRIMARY KEY,
    name                 text NOT NULL,
    website              text NOT NULL DEFAULT '',
    redirect_uris        text NOT NULL,
    scopes               text NOT NULL,
    client_id            text NOT NULL UNIQUE,
    client_secret_sha256 bytea NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);

-- oauth_codes: authorization codes, single-use and short-lived. used_at is
-- set when a code is exchanged; a second exchange is refused and revokes
-- the tokens the first one issued.
CREATE TABLE oauth_codes (
    code_sha256           bytea PRIMARY KEY,
    application_id        bigint NOT NULL REFERENCES oauth_applications (id) ON DELETE CASCADE,
    account_id            bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    redirect_uri          text NOT NULL,
    scopes                text NOT NULL,
    code_challenge        text NOT NULL DEFAULT '',
    code_challenge_method text NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    used_at               timestamptz
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

-- Tokens issued through OAuth name their application and, for the
-- authorization_code grant, the code they came from.
ALTER TABLE access_tokens
    ADD COLUMN application_id bigint REFERENCES oauth_applications (id) ON DELETE CASCADE,
    ADD COLUMN code_sha256    bytea;
CREATE INDEX access_tokens_code ON access_tokens (code_sha256) WHERE code_sha256 IS NOT NULL;
CREATE INDEX access_tokens_application ON access_tokens (application_id, account_id) WHERE application_id IS NOT NULL;

-- oauth_app_tokens: client_credentials tokens, which act for an
-- application and no account.
CREATE TABLE oauth_app_tokens (
    token_sha256   bytea PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES oauth_applications (id) ON DELETE CASCADE,
    scopes         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);

-- web_sessions: a signed-in browser on the authorize pages.
CREATE TABLE web_sessions (
    id_sha256  bytea PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
DROP TABLE oauth_app_tokens;
DROP INDEX access_tokens_application;
DROP INDEX access_tokens_code;
ALTER TABLE access_tokens DROP COLUMN code_sha256, DROP COLUMN application_id;
DROP TABLE oauth_codes;
DROP TABLE oauth_applications;
