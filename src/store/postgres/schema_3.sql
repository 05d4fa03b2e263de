-- Frontdesk on PostgreSQL, schema 3: erasing a customer's data.

-- A customer's conversations, found by their address.
CREATE INDEX conversations_customer ON conversations ((data->'customer'));

-- Erasures: who erased how much, and when; no personal data.
CREATE TABLE audit (
    id   bigserial PRIMARY KEY,
    at   timestamptz NOT NULL,
    data jsonb NOT NULL
);
