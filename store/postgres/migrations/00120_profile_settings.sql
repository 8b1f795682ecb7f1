-- +goose Up

-- discoverable, indexable: the profile flags a user sets with
-- update_credentials (and a remote actor publishes), federated in the
-- actor document. Existing accounts keep what Starling showed until now.
ALTER TABLE accounts ADD COLUMN discoverable boolean NOT NULL DEFAULT true,
    ADD COLUMN indexable boolean NOT NULL DEFAULT false;

-- preferences: a local user's posting defaults (starling.Preferences as
-- JSON); read with the user, never queried inside.
ALTER TABLE users ADD COLUMN preferences jsonb NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE users DROP COLUMN preferences;
ALTER TABLE accounts DROP COLUMN discoverable, DROP COLUMN indexable;
