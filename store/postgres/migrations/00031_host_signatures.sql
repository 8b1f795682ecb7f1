-- +goose Up

-- host_signatures: which HTTP signature standard each remote host is known
-- to accept ('draft-cavage' or 'rfc9421'), learnt from deliveries that
-- succeeded after double-knocking and from requests it signed to us. Written
-- and read by activitypub.Knocker (through fanout and inbox).
CREATE TABLE host_signatures (
    host       text PRIMARY KEY,
    standard   text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE host_signatures;
