-- +goose Up
-- delivery_attempts: PostgreSQL's 00142 (see there). at in microseconds.
CREATE TABLE delivery_attempts (
    host        TEXT NOT NULL,
    activity_id INTEGER NOT NULL,
    inbox       TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_host ON delivery_attempts (host, at DESC);
CREATE INDEX delivery_attempts_at ON delivery_attempts (at);

-- +goose Down
DROP TABLE delivery_attempts;
