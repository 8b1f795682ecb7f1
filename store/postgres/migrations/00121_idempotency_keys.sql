-- +goose Up

-- idempotency_keys: the Idempotency-Key a client sent with a new status,
-- for an hour, so a retried post returns the first status. Old rows are
-- ignored when read and deleted when the account posts with a key again.
CREATE TABLE idempotency_keys (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key        text NOT NULL,
    status_id  bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);

-- +goose Down
DROP TABLE idempotency_keys;
