-- +goose Up

-- store/postgres's migrations 00130 (the operator's view: deliveries,
-- host_controls, admin_actions) and 00131 (the admin role), for SQLite,
-- with the conventions of 00001 (timestamps in microseconds, booleans as
-- INTEGER). See 00130 for why each table is there and who writes it.

CREATE TABLE deliveries (
    activity_id     INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    inbox           TEXT NOT NULL,
    host            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending', -- pending, delivered, dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    last_status     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    delivered_at    INTEGER,
    latency_ms      INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    PRIMARY KEY (activity_id, inbox)
) WITHOUT ROWID;
CREATE INDEX deliveries_pending ON deliveries (host, created_at) WHERE state = 'pending';
CREATE INDEX deliveries_delivered ON deliveries (delivered_at, host) WHERE state = 'delivered';
-- Trimming dead rows by age (PostgreSQL scans for them; here an index
-- keeps the trim from reading every delivered row).
CREATE INDEX deliveries_dead ON deliveries (created_at) WHERE state = 'dead';

CREATE TABLE host_controls (
    host       TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    suspended  INTEGER NOT NULL DEFAULT 0,
    retry_at   INTEGER,
    purged_at  INTEGER,
    updated_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_by TEXT NOT NULL DEFAULT ''
);

-- AUTOINCREMENT: an audit's ids are never reused, as bigserial's are not.
CREATE TABLE admin_actions (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL DEFAULT '',
    affected INTEGER NOT NULL DEFAULT 0,
    detail   TEXT NOT NULL DEFAULT ''
);

CREATE INDEX events_subject_due ON events (subject, due_at) WHERE subject LIKE '%.delivery.%';

ALTER TABLE delivery_hosts ADD COLUMN last_status INTEGER NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN admin;
ALTER TABLE delivery_hosts DROP COLUMN last_status;
DROP INDEX events_subject_due;
DROP TABLE admin_actions;
DROP TABLE host_controls;
DROP TABLE deliveries;
