-- +goose Up

-- The embedded store's schema: store/postgres's schema as its migrations
-- leave it (00001 to 00090), consolidated into one migration and written
-- for SQLite. The differences, all forced by SQLite:
--
--   - timestamps are integers, microseconds since the Unix epoch (UTC);
--     dates (delivery_hosts.last_failure_on) are 'YYYY-MM-DD' text;
--   - text[] and jsonb columns are JSON text;
--   - booleans are integers 0 and 1;
--   - bigserial is INTEGER PRIMARY KEY AUTOINCREMENT (never reused);
--   - events has a stream column, the first two tokens of its subject,
--     written by the store, where PostgreSQL indexes an expression of
--     split_part;
--   - notifications' UNIQUE NULLS NOT DISTINCT is a unique index on
--     coalesce(status_id, 0);
--   - there is no LISTEN/NOTIFY trigger: the store wakes the relay in
--     process after a commit that appended events.
--
-- Ownership of the tables is as in store/postgres (see ARCHITECTURE.md).

CREATE TABLE accounts (
    id                      INTEGER PRIMARY KEY,
    username                TEXT NOT NULL,
    domain                  TEXT,
    display_name            TEXT NOT NULL DEFAULT '',
    note                    TEXT NOT NULL DEFAULT '',
    uri                     TEXT NOT NULL UNIQUE,
    url                     TEXT NOT NULL DEFAULT '',
    inbox_url               TEXT NOT NULL DEFAULT '',
    shared_inbox_url        TEXT NOT NULL DEFAULT '',
    outbox_url              TEXT NOT NULL DEFAULT '',
    followers_url           TEXT NOT NULL DEFAULT '',
    following_url           TEXT NOT NULL DEFAULT '',
    key_id                  TEXT NOT NULL DEFAULT '',
    public_key_pem          TEXT NOT NULL DEFAULT '',
    private_key_pem         TEXT,
    locked                  INTEGER NOT NULL DEFAULT 0,
    bot                     INTEGER NOT NULL DEFAULT 0,
    fields                  TEXT NOT NULL DEFAULT '[]',
    created_at              INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    fetched_at              INTEGER,
    ed25519_key_id          TEXT,
    ed25519_public_key      TEXT,
    ed25519_private_key_pem TEXT
);
CREATE UNIQUE INDEX accounts_acct ON accounts (lower(username), lower(coalesce(domain, '')));
CREATE INDEX accounts_key_id ON accounts (key_id);
CREATE INDEX accounts_ed25519_key_id ON accounts (ed25519_key_id) WHERE ed25519_key_id IS NOT NULL;

CREATE TABLE users (
    account_id    INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE oauth_applications (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL,
    website              TEXT NOT NULL DEFAULT '',
    redirect_uris        TEXT NOT NULL,
    scopes               TEXT NOT NULL,
    client_id            TEXT NOT NULL UNIQUE,
    client_secret_sha256 BLOB NOT NULL,
    created_at           INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);

CREATE TABLE access_tokens (
    token_sha256   BLOB PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scopes         TEXT NOT NULL,
    created_at     INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    revoked_at     INTEGER,
    application_id INTEGER REFERENCES oauth_applications (id) ON DELETE CASCADE,
    code_sha256    BLOB
);
CREATE INDEX access_tokens_code ON access_tokens (code_sha256) WHERE code_sha256 IS NOT NULL;
CREATE INDEX access_tokens_application ON access_tokens (application_id, account_id) WHERE application_id IS NOT NULL;

CREATE TABLE oauth_codes (
    code_sha256           BLOB PRIMARY KEY,
    application_id        INTEGER NOT NULL REFERENCES oauth_applications (id) ON DELETE CASCADE,
    account_id            INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    code_challenge        TEXT NOT NULL DEFAULT '',
    code_challenge_method TEXT NOT NULL DEFAULT '',
    created_at            INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    expires_at            INTEGER NOT NULL,
    used_at               INTEGER
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

CREATE TABLE oauth_app_tokens (
    token_sha256   BLOB PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES oauth_applications (id) ON DELETE CASCADE,
    scopes         TEXT NOT NULL,
    created_at     INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    revoked_at     INTEGER
);

CREATE TABLE web_sessions (
    id_sha256  BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

CREATE TABLE statuses (
    id              INTEGER PRIMARY KEY,
    uri             TEXT NOT NULL UNIQUE,
    url             TEXT NOT NULL DEFAULT '',
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    local           INTEGER NOT NULL,
    content         TEXT NOT NULL DEFAULT '',
    spoiler_text    TEXT NOT NULL DEFAULT '',
    sensitive       INTEGER NOT NULL DEFAULT 0,
    visibility      TEXT NOT NULL,
    in_reply_to_uri TEXT,
    created_at      INTEGER NOT NULL,
    deleted_at      INTEGER,
    reblog_of_id    INTEGER REFERENCES statuses (id) ON DELETE CASCADE,
    quote_uri       TEXT,
    mentions        TEXT NOT NULL DEFAULT '[]',
    hashtags        TEXT NOT NULL DEFAULT '[]',
    edited_at       INTEGER,
    source_text     TEXT,
    language        TEXT,
    emojis          TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX statuses_account ON statuses (account_id, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX statuses_reblog_of ON statuses (reblog_of_id) WHERE reblog_of_id IS NOT NULL;
CREATE UNIQUE INDEX statuses_one_reblog ON statuses (account_id, reblog_of_id)
    WHERE reblog_of_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX statuses_in_reply_to ON statuses (in_reply_to_uri) WHERE in_reply_to_uri IS NOT NULL;
CREATE INDEX statuses_public ON statuses (id DESC)
    WHERE visibility = 'public' AND deleted_at IS NULL AND reblog_of_id IS NULL;
CREATE INDEX statuses_public_local ON statuses (id DESC)
    WHERE visibility = 'public' AND deleted_at IS NULL AND reblog_of_id IS NULL AND local;

CREATE TABLE status_edits (
    id           INTEGER PRIMARY KEY,
    status_id    INTEGER NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    content      TEXT NOT NULL,
    spoiler_text TEXT NOT NULL DEFAULT '',
    sensitive    INTEGER NOT NULL DEFAULT 0,
    source_text  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX status_edits_status ON status_edits (status_id, created_at);

CREATE TABLE follows (
    id          INTEGER PRIMARY KEY,
    follower_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    followee_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    uri         TEXT NOT NULL UNIQUE,
    accepted    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    UNIQUE (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows (followee_id) WHERE accepted;

CREATE TABLE activities (
    id         INTEGER PRIMARY KEY,
    uri        TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    actor_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    object_uri TEXT NOT NULL DEFAULT '',
    payload    BLOB NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE INDEX activities_object ON activities (object_uri, type);

CREATE TABLE inbox_activities (
    id           INTEGER PRIMARY KEY,
    uri          TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    actor_uri    TEXT NOT NULL,
    payload      BLOB NOT NULL,
    received_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    processed_at INTEGER,
    forwarded_by TEXT
);

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    stream     TEXT NOT NULL,
    payload    BLOB NOT NULL,
    headers    TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    due_at     INTEGER NOT NULL
);
CREATE INDEX events_due ON events (due_at, seq);
CREATE INDEX events_stream_due ON events (stream, due_at, seq);

CREATE TABLE home_feed (
    account_id   INTEGER NOT NULL,
    status_id    INTEGER NOT NULL,
    reblog_of_id INTEGER,
    PRIMARY KEY (account_id, status_id)
) WITHOUT ROWID;
CREATE INDEX home_feed_reblogs ON home_feed (account_id, reblog_of_id) WHERE reblog_of_id IS NOT NULL;

CREATE TABLE feed_fanouts (
    status_id  INTEGER PRIMARY KEY,
    feeds      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);

CREATE TABLE status_mentions (
    status_id  INTEGER NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (status_id, account_id)
) WITHOUT ROWID;
CREATE INDEX status_mentions_account ON status_mentions (account_id);

CREATE TABLE status_tags (
    tag       TEXT NOT NULL,
    status_id INTEGER NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, status_id)
) WITHOUT ROWID;
CREATE INDEX status_tags_status ON status_tags (status_id);

CREATE TABLE blocks (
    account_id        INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    uri               TEXT NOT NULL UNIQUE,
    created_at        INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    PRIMARY KEY (account_id, target_account_id)
);
CREATE INDEX blocks_target ON blocks (target_account_id);

CREATE TABLE mutes (
    account_id        INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at        INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    PRIMARY KEY (account_id, target_account_id)
);
CREATE INDEX mutes_target ON mutes (target_account_id);

CREATE TABLE domain_blocks (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    domain     TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    PRIMARY KEY (account_id, domain)
);
CREATE INDEX domain_blocks_domain ON domain_blocks (domain);

CREATE TABLE favourites (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id  INTEGER NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    uri        TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    emoji      TEXT,
    UNIQUE (account_id, status_id)
);
CREATE INDEX favourites_status ON favourites (status_id);

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    from_account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id       INTEGER REFERENCES statuses (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE UNIQUE INDEX notifications_once ON notifications (account_id, type, from_account_id, coalesce(status_id, 0));
CREATE INDEX notifications_account ON notifications (account_id, id DESC);

CREATE TABLE dead_letters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id     INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    actor_id        INTEGER NOT NULL,
    inbox           TEXT NOT NULL,
    host            TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    first_error     TEXT NOT NULL,
    last_error      TEXT NOT NULL,
    first_failed_at INTEGER NOT NULL,
    last_failed_at  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    replayed_at     INTEGER
);
CREATE INDEX dead_letters_pending ON dead_letters (host, id) WHERE replayed_at IS NULL;

CREATE TABLE delivery_hosts (
    host            TEXT PRIMARY KEY,
    failure_days    INTEGER NOT NULL DEFAULT 0,
    last_failure_on TEXT,
    first_failed_at INTEGER,
    last_failed_at  INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    last_success_at INTEGER,
    unavailable     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE activity_audiences (
    activity_id INTEGER PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    inboxes     TEXT NOT NULL
);

CREATE TABLE gone_inboxes (
    inbox   TEXT PRIMARY KEY,
    gone_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);

CREATE TABLE host_signatures (
    host       TEXT PRIMARY KEY,
    standard   TEXT NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);

CREATE TABLE failed_messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer  TEXT NOT NULL,
    subject   TEXT NOT NULL,
    payload   BLOB NOT NULL,
    attempts  INTEGER NOT NULL,
    error     TEXT NOT NULL,
    failed_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);

CREATE TABLE markers (
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    timeline     TEXT NOT NULL,
    last_read_id INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    PRIMARY KEY (account_id, timeline)
);

CREATE TABLE bookmarks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id  INTEGER NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    UNIQUE (account_id, status_id)
);

CREATE TABLE status_pins (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id  INTEGER NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    PRIMARY KEY (account_id, status_id)
);

-- +goose Down
DROP TABLE status_pins;
DROP TABLE bookmarks;
DROP TABLE markers;
DROP TABLE failed_messages;
DROP TABLE host_signatures;
DROP TABLE gone_inboxes;
DROP TABLE activity_audiences;
DROP TABLE delivery_hosts;
DROP TABLE dead_letters;
DROP TABLE notifications;
DROP TABLE favourites;
DROP TABLE domain_blocks;
DROP TABLE mutes;
DROP TABLE blocks;
DROP TABLE status_tags;
DROP TABLE status_mentions;
DROP TABLE feed_fanouts;
DROP TABLE home_feed;
DROP TABLE events;
DROP TABLE inbox_activities;
DROP TABLE activities;
DROP TABLE follows;
DROP TABLE status_edits;
DROP TABLE statuses;
DROP TABLE web_sessions;
DROP TABLE oauth_app_tokens;
DROP TABLE oauth_codes;
DROP TABLE access_tokens;
DROP TABLE oauth_applications;
DROP TABLE users;
DROP TABLE accounts;
