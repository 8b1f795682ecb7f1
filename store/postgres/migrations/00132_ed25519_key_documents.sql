-- +goose Up

-- A local actor's Ed25519 key is now a document of its own, at
-- ACTOR/ed25519-key, instead of the fragment ACTOR#ed25519-key: Fedify
-- verifies an RFC 9421 signature only with a key it finds in the actor's
-- publicKey or at the keyid itself (see federation.Ed25519KeyID). Remote
-- servers that stored the old id look the new one up when it first signs
-- to them, and find it in the actor's assertionMethod again.
UPDATE accounts SET ed25519_key_id = uri || '/ed25519-key'
WHERE ed25519_private_key_pem IS NOT NULL AND ed25519_key_id = uri || '#ed25519-key';

-- +goose Down
UPDATE accounts SET ed25519_key_id = uri || '#ed25519-key'
WHERE ed25519_private_key_pem IS NOT NULL AND ed25519_key_id = uri || '/ed25519-key';
