-- +goose Up

-- Ed25519 keys besides the RSA one (issue 16, FEP-521a). Local accounts
-- hold a key pair: the private key as PKCS#8 PEM, read only through
-- SigningKeys, as private_key_pem is. Remote accounts hold the Ed25519
-- Multikey their actor publishes in assertionMethod, if any.
-- public_key is the publicKeyMultibase. Keys cannot be generated in SQL:
-- serve generates them at startup for local accounts that lack one.
-- host_signatures.standard may now also be 'rfc9421-ed25519': the host
-- verifies RFC 9421 signatures made with an Ed25519 key.
ALTER TABLE accounts
    ADD COLUMN ed25519_key_id          text,
    ADD COLUMN ed25519_public_key      text,
    ADD COLUMN ed25519_private_key_pem text;

CREATE INDEX accounts_ed25519_key_id ON accounts (ed25519_key_id) WHERE ed25519_key_id IS NOT NULL;

-- +goose Down
DROP INDEX accounts_ed25519_key_id;
ALTER TABLE accounts
    DROP COLUMN ed25519_key_id,
    DROP COLUMN ed25519_public_key,
    DROP COLUMN ed25519_private_key_pem;
