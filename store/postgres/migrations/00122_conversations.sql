-- +goose Up

-- conversations: each local account's direct conversations, one row per
-- set of other participants (Mastodon's AccountConversation, keyed by
-- participants: Starling keeps no thread ids). Written by the timeline
-- builder as direct statuses are fanned out; read and marked by the api.
CREATE TABLE conversations (
    id             bigserial PRIMARY KEY,
    account_id     bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    participants   bigint[] NOT NULL, -- the others, sorted
    last_status_id bigint NOT NULL,
    unread         boolean NOT NULL DEFAULT false,
    UNIQUE (account_id, participants)
);
CREATE INDEX conversations_recent ON conversations (account_id, last_status_id DESC);

-- +goose Down
DROP TABLE conversations;
