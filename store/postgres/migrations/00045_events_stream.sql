-- +goose Up
-- The relay runs one loop per stream, each claiming only its stream's due
-- events (the first two tokens of the subject, <prefix>.<kind>), so a
-- stream that is full never holds back another's events.
CREATE INDEX events_stream_due ON events ((split_part(subject, '.', 1) || '.' || split_part(subject, '.', 2)), due_at, seq);

-- +goose Down
DROP INDEX events_stream_due;
