-- +goose Up
-- backlog_samples: PostgreSQL's 00140 (see there). at in microseconds.
CREATE TABLE backlog_samples (
    at      INTEGER PRIMARY KEY,
    pending INTEGER NOT NULL
);

-- +goose Down
DROP TABLE backlog_samples;
