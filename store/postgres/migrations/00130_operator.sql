-- +goose Up

-- deliveries: one row per (activity, inbox) fanout queued, with its state.
-- The operator's backlog per host and the trace of one post are read
-- from here rather than from the delivery stream: a work-queue stream's
-- message count is not a backlog (nats-server 2.9 keeps acknowledged
-- messages after a crash), and retries waiting as events rows are not in
-- the stream at all. Rows are inserted set-wise by fanout, one statement
-- per fan-out, and updated by primary key once per attempt's outcome.
-- Owned by fanout.
CREATE TABLE deliveries (
    activity_id     bigint NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    inbox           text NOT NULL,
    host            text NOT NULL,
    state           text NOT NULL DEFAULT 'pending', -- pending, delivered, dead
    attempts        int NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    last_status     int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    delivered_at    timestamptz,
    latency_ms      int,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (activity_id, inbox)
);
-- The backlog: pending deliveries per host (small, hot, partial).
CREATE INDEX deliveries_pending ON deliveries (host, created_at) WHERE state = 'pending';
-- Delivered in the last hour and day, and the median latency.
CREATE INDEX deliveries_delivered ON deliveries (delivered_at, host) WHERE state = 'delivered';

-- host_controls: what an admin decided about a host. Paused: its
-- deliveries wait (parked in events, due far in the future) until resumed.
-- Suspended: no deliveries, inbound refused. retry_at: a "retry now"
-- that every deliverer sees (it forgets the host's breaker). purged_at:
-- deliveries of the host queued before it are dead letters already.
-- Written by the admin (api, CLI); read by fanout and inbox.
CREATE TABLE host_controls (
    host         text PRIMARY KEY,
    paused       boolean NOT NULL DEFAULT false,
    suspended    boolean NOT NULL DEFAULT false,
    retry_at     timestamptz,
    purged_at    timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   text NOT NULL DEFAULT ''
);

-- admin_actions: the audit of every operator action. Written by the admin
-- (api, CLI); read by the same.
CREATE TABLE admin_actions (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    action   text NOT NULL,
    target   text NOT NULL DEFAULT '',
    affected bigint NOT NULL DEFAULT 0,
    detail   text NOT NULL DEFAULT ''
);

-- A host's waiting events (retries, parked deliveries): resume, retry now
-- and purge find them by subject.
CREATE INDEX events_subject_due ON events (subject, due_at) WHERE subject LIKE '%.delivery.%';

-- delivery_hosts gains the status code of the last failure.
ALTER TABLE delivery_hosts ADD COLUMN last_status int NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE delivery_hosts DROP COLUMN last_status;
DROP INDEX events_subject_due;
DROP TABLE admin_actions, host_controls, deliveries;
