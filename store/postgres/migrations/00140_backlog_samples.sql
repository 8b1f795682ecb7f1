-- +goose Up
-- backlog_samples: the count of pending deliveries, sampled once a minute
-- by every process with the fanout role (the first write of a minute
-- wins), for the admin page's chart of the backlog over the last hours.
-- Kept two days. Written by fanout; read by the admin view.
CREATE TABLE backlog_samples (
    at      timestamptz PRIMARY KEY,
    pending bigint NOT NULL
);

-- +goose Down
DROP TABLE backlog_samples;
