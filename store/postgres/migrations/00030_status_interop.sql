-- +goose Up

-- What remote statuses carry besides their content (issue 5, interop):
-- the post they quote (Misskey, Fedibird, FEP-044f) and the mentions and
-- hashtags of their tag property. Written by inbox with the status.
ALTER TABLE statuses
    ADD COLUMN quote_uri text,
    ADD COLUMN mentions  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN hashtags  text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE statuses DROP COLUMN quote_uri, DROP COLUMN mentions, DROP COLUMN hashtags;
