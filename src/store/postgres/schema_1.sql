-- Frontdesk on PostgreSQL, schema 1. Each value is the same serde JSON the
-- sled backend stores, in `data`; the columns beside it are the keys and
-- indexes the queries need. Applied once, in one transaction.

CREATE SEQUENCE tickets START 1001;

-- conversation id -> conversation; `queue_key` orders the waiting queue
-- (priority, then the unanswered deadline or the wait, then id) and is
-- null when the conversation is not waiting.
CREATE TABLE conversations (
    id         uuid PRIMARY KEY,
    ticket     bigint NOT NULL UNIQUE,
    status     text NOT NULL,
    queue_key  bytea,
    data       jsonb NOT NULL
);
CREATE INDEX conversations_queue ON conversations (queue_key) WHERE queue_key IS NOT NULL;
CREATE INDEX conversations_status ON conversations (status, id);

-- A customer's current conversation.
CREATE TABLE customers (
    customer_key    text PRIMARY KEY,
    conversation_id uuid NOT NULL
);

CREATE TABLE messages (
    conversation_id uuid NOT NULL,
    seq             bigint NOT NULL,
    data            jsonb NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Inbound channel ids already taken in (promise 2).
CREATE TABLE seen_ids (
    channel         text NOT NULL,
    external_id     text NOT NULL,
    conversation_id uuid NOT NULL,
    seq             bigint NOT NULL,
    PRIMARY KEY (channel, external_id)
);

-- Customer turns whose automatic reply is not recorded yet.
CREATE TABLE pending_turns (
    conversation_id uuid NOT NULL,
    seq             bigint NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- `due_key` orders entries by due time, then id, as the sled key does.
CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    conversation_id uuid NOT NULL,
    due_key         bytea NOT NULL UNIQUE,
    due_at          timestamptz NOT NULL,
    data            jsonb NOT NULL
);
CREATE INDEX outbox_conversation ON outbox (conversation_id);

CREATE TABLE agents (
    username text PRIMARY KEY,
    data     jsonb NOT NULL
);

CREATE TABLE agent_sessions (
    token_hash text PRIMARY KEY,
    data       jsonb NOT NULL
);

CREATE TABLE canned (
    name text PRIMARY KEY,
    data jsonb NOT NULL
);

CREATE TABLE cursors (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);

CREATE TABLE blobs (
    hash  text PRIMARY KEY,
    bytes bytea NOT NULL
);

CREATE TABLE auto_replies (
    customer_key text NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX auto_replies_customer ON auto_replies (customer_key, at);

CREATE TABLE web_sessions (
    token text PRIMARY KEY,
    data  jsonb NOT NULL
);

CREATE TABLE pickups (
    id   bigserial PRIMARY KEY,
    at   timestamptz NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX pickups_at ON pickups (at);

CREATE TABLE status_changes (
    id   bigserial PRIMARY KEY,
    at   timestamptz NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX status_changes_at ON status_changes (at);
