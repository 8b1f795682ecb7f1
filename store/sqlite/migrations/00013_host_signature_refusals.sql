-- +goose Up
-- host_signatures.refused and refused_at: PostgreSQL's 00143 (see there).
-- refused_at in microseconds.
ALTER TABLE host_signatures ADD COLUMN refused TEXT NOT NULL DEFAULT '';
ALTER TABLE host_signatures ADD COLUMN refused_at INTEGER;

-- +goose Down
ALTER TABLE host_signatures DROP COLUMN refused_at;
ALTER TABLE host_signatures DROP COLUMN refused;
