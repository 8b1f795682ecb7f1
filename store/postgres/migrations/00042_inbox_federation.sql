-- +goose Up

-- Issue 9, the receiving side of federation.
--
-- The emoji of a reaction (a Misskey Like with _misskey_reaction, a
-- Pleroma/Akkoma EmojiReact): kept with the favourite it counts as, so a
-- later issue can show reactions without refetching them. NULL for a plain
-- favourite.
ALTER TABLE favourites ADD COLUMN emoji text;

-- The owner of the key that signed the delivery, when it is not the
-- activity's actor: a forwarded activity (ActivityPub 7.1.2), which the
-- processor trusts only in the copy it fetches from the object's origin.
-- NULL when the actor signed it.
ALTER TABLE inbox_activities ADD COLUMN forwarded_by text;

-- +goose Down
ALTER TABLE inbox_activities DROP COLUMN forwarded_by;
ALTER TABLE favourites DROP COLUMN emoji;
