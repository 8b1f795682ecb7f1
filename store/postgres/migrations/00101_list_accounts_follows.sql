-- +goose Up
-- A list holds only accounts its owner follows: when a follow goes
-- (unfollow, a rejected request, a deleted account), the followee leaves
-- the follower's lists, as Mastodon's ListAccount goes with its Follow.
-- One statement for all the follows a statement deleted, whichever
-- package deleted them.
-- +goose StatementBegin
CREATE FUNCTION starling_unlist_unfollowed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM list_accounts la USING lists l, gone g
     WHERE l.id = la.list_id AND l.account_id = g.follower_id AND la.account_id = g.followee_id
       AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = g.follower_id AND f.followee_id = g.followee_id);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER follows_unlist AFTER DELETE ON follows REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION starling_unlist_unfollowed();

-- +goose Down
DROP TRIGGER follows_unlist ON follows;
DROP FUNCTION starling_unlist_unfollowed();
