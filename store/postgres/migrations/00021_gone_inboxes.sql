-- +goose Up
-- gone_inboxes: inboxes that answered 410 Gone. Fanout leaves them out
-- until a delivery to them succeeds again (a replayed dead letter, say).
-- Owned by fanout.
CREATE TABLE gone_inboxes (
    inbox   text PRIMARY KEY,
    gone_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE gone_inboxes;
