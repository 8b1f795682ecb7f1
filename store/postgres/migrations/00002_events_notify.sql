-- +goose Up
-- Wake every relay when events commit, so a post made through one process is
-- published at once by whichever process runs a relay.
-- +goose StatementBegin
CREATE FUNCTION starling_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('starling_events', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION starling_events_notify();

-- +goose Down
DROP TRIGGER events_notify ON events;
DROP FUNCTION starling_events_notify();
