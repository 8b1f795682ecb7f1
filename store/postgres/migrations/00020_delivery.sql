-- +goose Up

-- An event may be due later: a delivery retry, or a delivery waiting for a
-- host's circuit breaker to close, is an event row the relay publishes when
-- due. Long retries thus live in the store of truth, not as unacked
-- messages that would fill a consumer's pending window.
ALTER TABLE events ADD COLUMN due_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX events_due ON events (due_at, seq);

-- dead_letters: deliveries that exhausted their schedule or failed for
-- good, kept for inspection and replay. Owned by fanout.
CREATE TABLE dead_letters (
    id              bigserial PRIMARY KEY,
    activity_id     bigint NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    actor_id        bigint NOT NULL,
    inbox           text NOT NULL,
    host            text NOT NULL,
    attempts        int NOT NULL,
    first_error     text NOT NULL,
    last_error      text NOT NULL,
    first_failed_at timestamptz NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    replayed_at     timestamptz
);
CREATE INDEX dead_letters_pending ON dead_letters (host, id) WHERE replayed_at IS NULL;

-- delivery_hosts: the health of each destination host. A host that failed
-- on unavailable-after distinct days with no success in between is marked
-- unavailable and skipped by new fanouts; any successful delivery clears it.
-- Owned by fanout.
CREATE TABLE delivery_hosts (
    host            text PRIMARY KEY,
    failure_days    int NOT NULL DEFAULT 0,
    last_failure_on date,
    first_failed_at timestamptz,
    last_failed_at  timestamptz,
    last_error      text NOT NULL DEFAULT '',
    last_success_at timestamptz,
    unavailable     boolean NOT NULL DEFAULT false
);

-- activity_audiences: the inboxes an activity was fanned out to, so that a
-- Delete reaches exactly the servers that were sent the Create. Owned by fanout.
CREATE TABLE activity_audiences (
    activity_id bigint PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    inboxes     text[] NOT NULL
);

CREATE INDEX activities_object ON activities (object_uri, type);

-- +goose Down
DROP INDEX activities_object;
DROP TABLE activity_audiences, delivery_hosts, dead_letters;
DROP INDEX events_due;
ALTER TABLE events DROP COLUMN due_at;
