-- +goose Up

-- failed_messages: queue messages a consumer gave up on after its bounded
-- number of attempts (a poison message), kept for the admin report instead
-- of looping forever. Written by queue consumers through the store.
CREATE TABLE failed_messages (
    id        bigserial PRIMARY KEY,
    consumer  text NOT NULL,
    subject   text NOT NULL,
    payload   bytea NOT NULL,
    attempts  integer NOT NULL,
    error     text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);

-- Edits (Mastodon's StatusEdit): each version of an edited status, the
-- original included, oldest first. Local edits are written by outbox,
-- remote ones (Update of a Note) by inbox.
ALTER TABLE statuses ADD COLUMN edited_at timestamptz;

CREATE TABLE status_edits (
    id           bigint PRIMARY KEY,
    status_id    bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    content      text NOT NULL,
    spoiler_text text NOT NULL DEFAULT '',
    sensitive    boolean NOT NULL DEFAULT false,
    source_text  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL
);
CREATE INDEX status_edits_status ON status_edits (status_id, created_at);

-- The text a local status was written as (Mastodon's StatusSource), so an
-- edit starts from it rather than from the HTML.
ALTER TABLE statuses ADD COLUMN source_text text;

-- +goose Down
ALTER TABLE statuses DROP COLUMN source_text;
DROP TABLE status_edits;
ALTER TABLE statuses DROP COLUMN edited_at;
DROP TABLE failed_messages;
