-- +goose Up

-- media_attachments: uploads and the pictures of statuses. A local row owns
-- files in the media store (file_key, small_key); a remote one is shown by
-- remote_url. Written by the api (uploads, descriptions), the outbox
-- (attached with the status) and the inbox (remote statuses); the media
-- sweeper deletes unattached uploads after a day and the files of deleted
-- statuses.
CREATE TABLE media_attachments (
    id          bigint PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id   bigint REFERENCES statuses (id) ON DELETE SET NULL,
    type        text NOT NULL DEFAULT 'image',
    state       text NOT NULL DEFAULT 'processing',
    mime        text NOT NULL DEFAULT '',
    file_key    text,
    small_key   text,
    remote_url  text,
    description text NOT NULL DEFAULT '',
    focus_x     double precision NOT NULL DEFAULT 0,
    focus_y     double precision NOT NULL DEFAULT 0,
    width       integer NOT NULL DEFAULT 0,
    height      integer NOT NULL DEFAULT 0,
    small_width  integer NOT NULL DEFAULT 0,
    small_height integer NOT NULL DEFAULT 0,
    blurhash    text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_attachments_status ON media_attachments (status_id) WHERE status_id IS NOT NULL;
CREATE INDEX media_attachments_unattached ON media_attachments (created_at) WHERE status_id IS NULL;

-- attachments: the status's pictures as JSON (starling.MediaAttachment),
-- copied when the status is written, so a timeline read needs no join.
ALTER TABLE statuses ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]';

-- avatar_url, header_url: the profile pictures (a local file's URL, or
-- the remote actor's icon and image); empty for the default ones.
ALTER TABLE accounts ADD COLUMN avatar_url text NOT NULL DEFAULT '',
    ADD COLUMN header_url text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE accounts DROP COLUMN avatar_url, DROP COLUMN header_url;
ALTER TABLE statuses DROP COLUMN attachments;
DROP TABLE media_attachments;
