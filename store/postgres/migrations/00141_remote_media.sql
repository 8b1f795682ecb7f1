-- +goose Up
-- remote_media: remote pictures fetched through this server on first view
-- and kept --remote-media-days (api writes on fetch; the media sweeper
-- deletes expired rows after their files).
CREATE TABLE remote_media (
    hash       text PRIMARY KEY,
    file_key   text NOT NULL,
    url        text NOT NULL,
    host       text NOT NULL,
    size       bigint NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX remote_media_fetched ON remote_media (fetched_at);

-- +goose Down
DROP TABLE remote_media;
