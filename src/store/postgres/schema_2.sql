-- Frontdesk on PostgreSQL, schema 2: several instances share one desk.

-- The instance delivering an outbox entry holds it until `lease_until`
-- (renewed while it lives); null when nobody does.
ALTER TABLE outbox
    ADD COLUMN lease_owner uuid,
    ADD COLUMN lease_until timestamptz;
CREATE INDEX outbox_lease ON outbox (lease_owner) WHERE lease_owner IS NOT NULL;

-- What one instance tells the others: transcript updates for customers'
-- live connections and events for agents' consoles. Kept a few minutes,
-- for instances catching up after a reconnect.
CREATE TABLE notices (
    id     bigserial PRIMARY KEY,
    origin uuid NOT NULL,
    at     timestamptz NOT NULL DEFAULT now(),
    data   jsonb NOT NULL
);
CREATE INDEX notices_at ON notices (at);

-- Whether another instance than `instance` holds `entry` now.
CREATE FUNCTION held_by_other(entry outbox, instance uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT entry.lease_owner IS NOT NULL
       AND entry.lease_owner <> instance
       AND entry.lease_until > now()
$$;
