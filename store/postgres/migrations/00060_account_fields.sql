-- +goose Up

-- fields: an account's profile fields, as a JSON array of {"name", "value"}
-- objects in the order the account lists them. For remote accounts they are
-- the actor's PropertyValue attachments, already cleaned by the resolver
-- (name as text, value as HTML); they are replaced whole on every fetch or
-- Update, never edited in place, so one column does.
ALTER TABLE accounts ADD COLUMN fields jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE accounts DROP COLUMN fields;
