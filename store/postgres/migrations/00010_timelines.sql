-- +goose Up

-- Boosts are statuses that point at the status they boost, as on Mastodon:
-- the boost has its own id (so it sorts where it was boosted in a feed) and
-- its own URI (the Announce's id). One live boost per account and status.
ALTER TABLE statuses ADD COLUMN reblog_of_id bigint REFERENCES statuses (id) ON DELETE CASCADE;
CREATE INDEX statuses_reblog_of ON statuses (reblog_of_id) WHERE reblog_of_id IS NOT NULL;
CREATE UNIQUE INDEX statuses_one_reblog ON statuses (account_id, reblog_of_id)
    WHERE reblog_of_id IS NOT NULL AND deleted_at IS NULL;
-- Replies are matched to their parent by URI when they are fanned out.
CREATE INDEX statuses_in_reply_to ON statuses (in_reply_to_uri) WHERE in_reply_to_uri IS NOT NULL;
-- The public timelines are backward scans of these partial indexes.
CREATE INDEX statuses_public ON statuses (id DESC)
    WHERE visibility = 'public' AND deleted_at IS NULL AND reblog_of_id IS NULL;
CREATE INDEX statuses_public_local ON statuses (id DESC)
    WHERE visibility = 'public' AND deleted_at IS NULL AND reblog_of_id IS NULL AND local;

-- home_feed entries of boosts remember the boosted status, so that a boost
-- of a status already in a feed (as itself or as another boost) is not
-- added again. The partial index holds boosts only, so plain posts (the
-- bulk of fan-out) pay nothing for it.
--
-- The foreign keys of home_feed go: they cost two index probes per row on
-- the fan-out path (100,000 rows per post of a popular account). Removal is
-- explicit instead (timeline handles status and account deletion), and
-- reads join statuses, so a dangling row is never shown.
ALTER TABLE home_feed ADD COLUMN reblog_of_id bigint;
ALTER TABLE home_feed DROP CONSTRAINT home_feed_account_id_fkey;
ALTER TABLE home_feed DROP CONSTRAINT home_feed_status_id_fkey;
CREATE INDEX home_feed_reblogs ON home_feed (account_id, reblog_of_id) WHERE reblog_of_id IS NOT NULL;
-- The index on status_id goes too: it doubled the index work of every
-- fan-out row. A status's rows are found from its audience instead (the
-- author's followers, the author, the addressees: see
-- RemoveStatusFromFeeds), reads skip deleted statuses, and the trimmer
-- sweeps out entries of deleted statuses.
DROP INDEX home_feed_status;

-- feed_fanouts: one row per status fanned out, written in the fan-out's
-- transaction. It is what makes a replayed status.created add nothing: the
-- marker is claimed first (a concurrent replay waits on it, then sees it),
-- so the feed insert itself needs no per-row ON CONFLICT check, which
-- would double its cost. Owned by timeline.
CREATE TABLE feed_fanouts (
    status_id  bigint PRIMARY KEY,
    feeds      bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Mentions and hashtags of a status, extracted by timeline when the status
-- is fanned out. Owned by timeline.
CREATE TABLE status_mentions (
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (status_id, account_id)
);
CREATE INDEX status_mentions_account ON status_mentions (account_id);

CREATE TABLE status_tags (
    tag       text NOT NULL, -- lower case, without '#'
    status_id bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, status_id)
);
CREATE INDEX status_tags_status ON status_tags (status_id);

-- blocks, mutes and domain blocks: local ones written by outbox, remote
-- blocks (of a local account by a remote one) by inbox.
CREATE TABLE blocks (
    account_id        bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    uri               text NOT NULL UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, target_account_id)
);
CREATE INDEX blocks_target ON blocks (target_account_id);

CREATE TABLE mutes (
    account_id        bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, target_account_id)
);
-- Fan-out looks relations up by the author's side: who blocks or mutes the
-- author (or their domain) is removed from the set of readers in one step.
CREATE INDEX mutes_target ON mutes (target_account_id);

CREATE TABLE domain_blocks (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    domain     text NOT NULL, -- lower case
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, domain)
);
CREATE INDEX domain_blocks_domain ON domain_blocks (domain);

-- favourites: local ones written by outbox, remote Likes by inbox.
CREATE TABLE favourites (
    id         bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    uri        text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, status_id)
);

-- notifications: owned by timeline. One per (recipient, type, sender,
-- status), so a replayed event notifies once.
CREATE TABLE notifications (
    id              bigint PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type            text NOT NULL,
    from_account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id       bigint REFERENCES statuses (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (account_id, type, from_account_id, status_id)
);
CREATE INDEX notifications_account ON notifications (account_id, id DESC);

-- +goose Down
DROP TABLE feed_fanouts, notifications, favourites, domain_blocks, mutes, blocks, status_tags, status_mentions;
DROP INDEX home_feed_reblogs;
CREATE INDEX home_feed_status ON home_feed (status_id);
ALTER TABLE home_feed DROP COLUMN reblog_of_id;
DELETE FROM home_feed h WHERE NOT EXISTS (SELECT 1 FROM statuses s WHERE s.id = h.status_id)
    OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = h.account_id);
ALTER TABLE home_feed ADD CONSTRAINT home_feed_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE;
ALTER TABLE home_feed ADD CONSTRAINT home_feed_status_id_fkey FOREIGN KEY (status_id) REFERENCES statuses (id) ON DELETE CASCADE;
DROP INDEX statuses_public_local, statuses_public, statuses_in_reply_to, statuses_one_reblog, statuses_reblog_of;
ALTER TABLE statuses DROP COLUMN reblog_of_id;
