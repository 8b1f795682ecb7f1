-- +goose Up
-- users.admin: the role that may use admin:* scopes. A token's scopes say
-- what an application may do; the role says whether the person may do it
-- at all (any user can register an app asking for admin:write).
-- Written by the CLI (starling admin account create --admin, account role).
ALTER TABLE users ADD COLUMN admin boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE users DROP COLUMN admin;
