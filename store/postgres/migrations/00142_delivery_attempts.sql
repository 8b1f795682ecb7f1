-- +goose Up
-- delivery_attempts: every failed delivery attempt (successes are the
-- deliveries row's delivered_at), for a host's attempt history in the
-- operator's view. Written by fanout with the batched outcomes; trimmed
-- with the deliveries (14 days).
CREATE TABLE delivery_attempts (
    host        text NOT NULL,
    activity_id bigint NOT NULL,
    inbox       text NOT NULL,
    attempt     int NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status      int NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_host ON delivery_attempts (host, at DESC);
CREATE INDEX delivery_attempts_at ON delivery_attempts (at);

-- +goose Down
DROP TABLE delivery_attempts;
