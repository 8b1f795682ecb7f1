-- +goose Up

-- store/postgres's migration 00124 (media), for SQLite, with the
-- conventions of 00001 (focus_x and focus_y are REAL).
CREATE TABLE media_attachments (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id    INTEGER REFERENCES statuses (id) ON DELETE SET NULL,
    type         TEXT NOT NULL DEFAULT 'image',
    state        TEXT NOT NULL DEFAULT 'processing',
    mime         TEXT NOT NULL DEFAULT '',
    file_key     TEXT,
    small_key    TEXT,
    remote_url   TEXT,
    description  TEXT NOT NULL DEFAULT '',
    focus_x      REAL NOT NULL DEFAULT 0,
    focus_y      REAL NOT NULL DEFAULT 0,
    width        INTEGER NOT NULL DEFAULT 0,
    height       INTEGER NOT NULL DEFAULT 0,
    small_width  INTEGER NOT NULL DEFAULT 0,
    small_height INTEGER NOT NULL DEFAULT 0,
    blurhash     TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE INDEX media_attachments_status ON media_attachments (status_id) WHERE status_id IS NOT NULL;
CREATE INDEX media_attachments_unattached ON media_attachments (created_at) WHERE status_id IS NULL;

ALTER TABLE statuses ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN avatar_url TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN header_url TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE accounts DROP COLUMN header_url;
ALTER TABLE accounts DROP COLUMN avatar_url;
ALTER TABLE statuses DROP COLUMN attachments;
DROP TABLE media_attachments;
