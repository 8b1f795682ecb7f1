-- +goose Up

-- reports: what local users report to this server's moderators (and, with
-- forward, to the reported account's server as a Flag). Written by the
-- outbox; read by the api (the reporter's answer; moderation is later).
CREATE TABLE reports (
    id                bigint PRIMARY KEY,
    account_id        bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_ids        bigint[] NOT NULL DEFAULT '{}',
    comment           text NOT NULL DEFAULT '',
    category          text NOT NULL,
    forwarded         boolean NOT NULL DEFAULT false,
    uri               text NOT NULL UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_target ON reports (target_account_id);

-- +goose Down
DROP TABLE reports;
