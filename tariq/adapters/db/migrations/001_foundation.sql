-- Foundation: the event journal (source of truth), bag state, dead letters, counters, tokens.

-- Every valid, unique event the stream has processed. `event_id` is the idempotency key:
-- a redelivered or duplicated event conflicts here and changes nothing else.
CREATE TABLE journal (
    event_id        text PRIMARY KEY,
    type            text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    tag             text,
    parent_event_id text,
    -- The event exactly as received (text, not jsonb: byte-exact for audit, and 60%
    -- faster to insert; queries cast the few rows they read).
    payload         text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journal_by_tag ON journal (tag, occurred_at) WHERE tag IS NOT NULL;
CREATE INDEX journal_by_type ON journal (type, occurred_at);

-- Current state of each bag, derived from the journal by stream/bags.py.
CREATE TABLE bags (
    tag               text PRIMARY KEY,
    pilgrim_id        text,
    flight_id         text,
    hotel_id          text,
    coded_at          timestamptz,
    coded_event_id    text,
    stage_rank        smallint    NOT NULL,
    location          text,
    location_at       timestamptz,
    location_event_id text,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX bags_by_hotel ON bags (hotel_id);
CREATE INDEX bags_by_flight ON bags (flight_id);
CREATE INDEX bags_by_pilgrim ON bags (pilgrim_id);

-- Input that is not a contract event, kept with the reason. `source_ref` names where it
-- came from (a Kafka partition and offset, or an HTTP request and index) so that a
-- redelivered bad message is kept once.
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    source_ref  text        NOT NULL UNIQUE,
    received_at timestamptz NOT NULL DEFAULT now(),
    reason      text        NOT NULL,
    raw         bytea       NOT NULL
);

-- Counters per scope: one row per input partition (written only under that row's lock,
-- so `version` grows in commit order) and one for the HTTP intake.
CREATE TABLE counters (
    scope      text PRIMARY KEY,
    version    bigint NOT NULL DEFAULT 0,
    processed  bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    rejected   bigint NOT NULL DEFAULT 0,
    clock      timestamptz
);

-- Bags per stage, kept per scope alongside the counters; the summary is their sum.
CREATE TABLE stage_counts (
    scope text   NOT NULL,
    stage text   NOT NULL,
    bags  bigint NOT NULL,
    PRIMARY KEY (scope, stage)
);

-- API tokens, stored as SHA-256 hashes (tokens are 256-bit random, so a fast hash is safe).
CREATE TABLE tokens (
    token_hash text PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('operator', 'hotel', 'device')),
    hotel_id   text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'hotel') = (hotel_id IS NOT NULL))
);

-- True duplicates (a second message carrying an already-journaled event_id), by where
-- they came from, so that a redelivered duplicate is not counted twice.
CREATE TABLE duplicate_receipts (
    source_ref text PRIMARY KEY,
    event_id   text NOT NULL
);

ALTER TABLE journal ADD COLUMN source_ref text NOT NULL DEFAULT '';
