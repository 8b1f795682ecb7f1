-- +goose Up
-- remote_media: PostgreSQL's 00141 (see there). fetched_at in microseconds.
CREATE TABLE remote_media (
    hash       TEXT PRIMARY KEY,
    file_key   TEXT NOT NULL,
    url        TEXT NOT NULL,
    host       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX remote_media_fetched ON remote_media (fetched_at);

-- +goose Down
DROP TABLE remote_media;
