-- +goose Up

-- store/postgres's migration 00132: local actors' Ed25519 keys move from
-- ACTOR#ed25519-key to a document of their own at ACTOR/ed25519-key.
UPDATE accounts SET ed25519_key_id = uri || '/ed25519-key'
WHERE ed25519_private_key_pem IS NOT NULL AND ed25519_key_id = uri || '#ed25519-key';

-- +goose Down
UPDATE accounts SET ed25519_key_id = uri || '#ed25519-key'
WHERE ed25519_private_key_pem IS NOT NULL AND ed25519_key_id = uri || '/ed25519-key';
