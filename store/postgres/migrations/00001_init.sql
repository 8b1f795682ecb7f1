-- +goose Up

-- accounts: local and remote actors in one id space, as Mastodon does.
-- Local rows (domain IS NULL) are written by api (admin account create);
-- remote rows by activitypub.Resolver when it fetches an actor.
CREATE TABLE accounts (
    id               bigint PRIMARY KEY,
    username         text NOT NULL,
    domain           text,
    display_name     text NOT NULL DEFAULT '',
    note             text NOT NULL DEFAULT '',
    uri              text NOT NULL UNIQUE,
    url              text NOT NULL DEFAULT '',
    inbox_url        text NOT NULL DEFAULT '',
    shared_inbox_url text NOT NULL DEFAULT '',
    outbox_url       text NOT NULL DEFAULT '',
    followers_url    text NOT NULL DEFAULT '',
    following_url    text NOT NULL DEFAULT '',
    key_id           text NOT NULL DEFAULT '',
    public_key_pem   text NOT NULL DEFAULT '',
    private_key_pem  text,
    locked           boolean NOT NULL DEFAULT false,
    bot              boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    fetched_at       timestamptz
);
CREATE UNIQUE INDEX accounts_acct ON accounts (lower(username), lower(coalesce(domain, '')));
CREATE INDEX accounts_key_id ON accounts (key_id);

-- users and access_tokens: owned by api.
CREATE TABLE users (
    account_id    bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE access_tokens (
    token_sha256 bytea PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scopes       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- statuses: local rows written by outbox, remote rows by inbox. A deleted
-- status stays as a tombstone (deleted_at set, content cleared) so that a
-- Create replayed after its Delete cannot bring it back.
CREATE TABLE statuses (
    id              bigint PRIMARY KEY,
    uri             text NOT NULL UNIQUE,
    url             text NOT NULL DEFAULT '',
    account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    local           boolean NOT NULL,
    content         text NOT NULL DEFAULT '',
    spoiler_text    text NOT NULL DEFAULT '',
    sensitive       boolean NOT NULL DEFAULT false,
    visibility      text NOT NULL,
    in_reply_to_uri text,
    created_at      timestamptz NOT NULL,
    deleted_at      timestamptz
);
CREATE INDEX statuses_account ON statuses (account_id, id DESC) WHERE deleted_at IS NULL;

-- follows: requests made here are written by outbox, those arriving by inbox;
-- inbox also flips accepted when the remote Accept arrives.
CREATE TABLE follows (
    id          bigint PRIMARY KEY,
    follower_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    followee_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    uri         text NOT NULL UNIQUE,
    accepted    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows (followee_id) WHERE accepted;

-- activities: every activity this server sends, stored once. Deliveries
-- carry only the activity id; the delivery worker loads the payload here.
-- Owned by outbox.
CREATE TABLE activities (
    id         bigint PRIMARY KEY,
    uri        text NOT NULL UNIQUE,
    type       text NOT NULL,
    actor_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    object_uri text NOT NULL DEFAULT '',
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- inbox_activities: every remote activity received, stored once (unique on
-- its id). Owned by inbox.
CREATE TABLE inbox_activities (
    id           bigint PRIMARY KEY,
    uri          text NOT NULL UNIQUE,
    type         text NOT NULL,
    actor_uri    text NOT NULL,
    payload      bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);

-- events: the transactional outbox. Any transaction that changes state which
-- another component must learn about appends a row here; queue.Relay
-- publishes rows to JetStream (Nats-Msg-Id = msg_id) and deletes them.
CREATE TABLE events (
    seq        bigserial PRIMARY KEY,
    msg_id     text NOT NULL,
    subject    text NOT NULL,
    payload    bytea NOT NULL,
    headers    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- home_feed: materialised home timelines, owned by timeline. The primary key
-- makes a replayed event add nothing and serves the read as a backward scan.
CREATE TABLE home_feed (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, status_id)
);
CREATE INDEX home_feed_status ON home_feed (status_id);

-- +goose Down
DROP TABLE home_feed, events, inbox_activities, activities, follows, statuses, access_tokens, users, accounts;
