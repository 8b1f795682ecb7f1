-- +goose Up

-- What remote statuses carry besides (issue 9): the language their
-- contentMap names, and the custom emojis their Emoji tags define
-- ([{"shortcode", "url", "static_url"}]). Written by inbox with the status.
ALTER TABLE statuses
    ADD COLUMN language text,
    ADD COLUMN emojis   jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE statuses DROP COLUMN language, DROP COLUMN emojis;
