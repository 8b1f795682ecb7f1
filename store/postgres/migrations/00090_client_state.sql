-- +goose Up

-- Per-user state Mastodon clients keep on the server (issue 11), owned by
-- api: read positions (markers), bookmarks and pinned statuses.

-- markers: where the user stopped reading a timeline (home, notifications);
-- version counts saves, as Mastodon's lock_version.
CREATE TABLE markers (
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    timeline     text NOT NULL,
    last_read_id bigint NOT NULL,
    version      integer NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, timeline)
);

-- bookmarks: private to their owner, never federated. id orders them as
-- they were made, which is how /api/v1/bookmarks pages.
CREATE TABLE bookmarks (
    id         bigserial UNIQUE,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, status_id)
);

-- status_pins: an author's own statuses shown first on their profile.
CREATE TABLE status_pins (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, status_id)
);

-- +goose Down
DROP TABLE status_pins;
DROP TABLE bookmarks;
DROP TABLE markers;
