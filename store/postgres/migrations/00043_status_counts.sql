-- +goose Up

-- Status entities carry favourites_count; it is counted per status.
CREATE INDEX favourites_status ON favourites (status_id);

-- +goose Down
DROP INDEX favourites_status;
