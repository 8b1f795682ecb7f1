-- +goose Up

-- store/postgres's migrations 00100 to 00123 (lists, filters, followed
-- tags, profile settings, idempotency keys, conversations, reports), for
-- SQLite, with the same conventions as 00001 (see there).

CREATE TABLE lists (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title          TEXT NOT NULL,
    replies_policy TEXT NOT NULL DEFAULT 'list' CHECK (replies_policy IN ('followed', 'list', 'none')),
    exclusive      INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE INDEX lists_account ON lists (account_id);

CREATE TABLE list_accounts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    list_id    INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    UNIQUE (list_id, account_id)
);
CREATE INDEX list_accounts_account ON list_accounts (account_id);

CREATE TABLE custom_filters (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    context       TEXT NOT NULL, -- JSON array
    filter_action TEXT NOT NULL DEFAULT 'warn' CHECK (filter_action IN ('warn', 'hide')),
    expires_at    INTEGER,
    created_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE INDEX custom_filters_account ON custom_filters (account_id);

CREATE TABLE custom_filter_keywords (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    custom_filter_id INTEGER NOT NULL REFERENCES custom_filters (id) ON DELETE CASCADE,
    keyword          TEXT NOT NULL,
    whole_word       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX custom_filter_keywords_filter ON custom_filter_keywords (custom_filter_id);

CREATE TABLE custom_filter_statuses (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    custom_filter_id INTEGER NOT NULL REFERENCES custom_filters (id) ON DELETE CASCADE,
    status_id        INTEGER NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    UNIQUE (custom_filter_id, status_id)
);

CREATE TABLE tag_follows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    UNIQUE (account_id, tag)
);
CREATE INDEX tag_follows_tag ON tag_follows (tag);

-- A list holds only accounts its owner follows: when a follow goes, the
-- followee leaves the follower's lists (postgres 00101, a statement
-- trigger there; SQLite's triggers are per row).
-- +goose StatementBegin
CREATE TRIGGER follows_unlist AFTER DELETE ON follows BEGIN
    DELETE FROM list_accounts
     WHERE account_id = OLD.followee_id
       AND list_id IN (SELECT id FROM lists WHERE account_id = OLD.follower_id)
       AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = OLD.follower_id AND f.followee_id = OLD.followee_id);
END;
-- +goose StatementEnd

ALTER TABLE accounts ADD COLUMN discoverable INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN indexable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN preferences TEXT NOT NULL DEFAULT '{}';

CREATE TABLE idempotency_keys (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    status_id  INTEGER NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    PRIMARY KEY (account_id, key)
);

-- participants: the others, sorted, as a JSON array (bigint[] there).
CREATE TABLE conversations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    participants   TEXT NOT NULL,
    last_status_id INTEGER NOT NULL,
    unread         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, participants)
);
CREATE INDEX conversations_recent ON conversations (account_id, last_status_id DESC);

CREATE TABLE reports (
    id                INTEGER PRIMARY KEY,
    account_id        INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_ids        TEXT NOT NULL DEFAULT '[]',
    comment           TEXT NOT NULL DEFAULT '',
    category          TEXT NOT NULL,
    forwarded         INTEGER NOT NULL DEFAULT 0,
    uri               TEXT NOT NULL UNIQUE,
    created_at        INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE INDEX reports_target ON reports (target_account_id);

-- +goose Down
DROP TABLE reports;
DROP TABLE conversations;
DROP TABLE idempotency_keys;
ALTER TABLE users DROP COLUMN preferences;
ALTER TABLE accounts DROP COLUMN indexable;
ALTER TABLE accounts DROP COLUMN discoverable;
DROP TRIGGER follows_unlist;
DROP TABLE tag_follows;
DROP TABLE custom_filter_statuses;
DROP TABLE custom_filter_keywords;
DROP TABLE custom_filters;
DROP TABLE list_accounts;
DROP TABLE lists;
