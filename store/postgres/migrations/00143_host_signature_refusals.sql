-- +goose Up

-- A knock refused with a newer signature standard lowers what a host is
-- known to verify; refused and refused_at keep which standard it refused
-- and when, so federation.Knocker tries it again once the refusal is a
-- few days old (a server upgraded since, or refused for another reason
-- that day) and does not raise the host back to it from a request the
-- host signed meanwhile. '' and NULL: nothing refused.
ALTER TABLE host_signatures
    ADD COLUMN refused    text NOT NULL DEFAULT '',
    ADD COLUMN refused_at timestamptz;

-- +goose Down
ALTER TABLE host_signatures DROP COLUMN refused, DROP COLUMN refused_at;
