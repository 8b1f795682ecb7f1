-- +goose Up

-- A person's own reading tools (issue 11), owned by api: lists of
-- accounts, content filters, followed hashtags. None of them federates.

-- lists: an owner's named selection of the accounts they follow, read as
-- its own timeline. replies_policy and exclusive are Mastodon's.
CREATE TABLE lists (
    id             bigserial PRIMARY KEY,
    account_id     bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title          text NOT NULL,
    replies_policy text NOT NULL DEFAULT 'list' CHECK (replies_policy IN ('followed', 'list', 'none')),
    exclusive      boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lists_account ON lists (account_id);

-- list_accounts: the members; id orders them as they were added, which is
-- how /api/v1/lists/:id/accounts pages. Members are accounts the owner
-- follows (or asked to), or the owner; an unfollowed member leaves (00101).
CREATE TABLE list_accounts (
    id         bigserial UNIQUE,
    list_id    bigint NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (list_id, account_id)
);
CREATE INDEX list_accounts_account ON list_accounts (account_id);

-- custom_filters: Mastodon's v2 filters. context is a subset of home,
-- notifications, public, thread, account; expires_at NULL never expires.
CREATE TABLE custom_filters (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title         text NOT NULL,
    context       text[] NOT NULL,
    filter_action text NOT NULL DEFAULT 'warn' CHECK (filter_action IN ('warn', 'hide')),
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX custom_filters_account ON custom_filters (account_id);

CREATE TABLE custom_filter_keywords (
    id               bigserial PRIMARY KEY,
    custom_filter_id bigint NOT NULL REFERENCES custom_filters (id) ON DELETE CASCADE,
    keyword          text NOT NULL,
    whole_word       boolean NOT NULL DEFAULT true
);
CREATE INDEX custom_filter_keywords_filter ON custom_filter_keywords (custom_filter_id);

CREATE TABLE custom_filter_statuses (
    id               bigserial PRIMARY KEY,
    custom_filter_id bigint NOT NULL REFERENCES custom_filters (id) ON DELETE CASCADE,
    status_id        bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    UNIQUE (custom_filter_id, status_id)
);

-- tag_follows: hashtags a local account follows; public statuses carrying
-- one enter its home feed on fan-out (tag_follows_tag serves that join).
-- name keeps the case the tag was followed with, tag is lower case.
CREATE TABLE tag_follows (
    id         bigserial UNIQUE,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tag        text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, tag)
);
CREATE INDEX tag_follows_tag ON tag_follows (tag);

-- +goose Down
DROP TABLE tag_follows, custom_filter_statuses, custom_filter_keywords, custom_filters, list_accounts, lists;
