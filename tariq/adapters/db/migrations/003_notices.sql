-- Hotel notices (contract section 5): where each hotel wants them, and the outbox they are
-- delivered from (tariq/notices.py).

-- The secret is kept as given: it keys the HMAC of every body, so it cannot be hashed.
CREATE TABLE hotel_webhooks (
    hotel_id     text PRIMARY KEY,
    url          text        NOT NULL,
    secret       text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- A deliverer owns the hotel's queue until then: one sender at a time keeps the
    -- hotel's notices in order and each sent once per round; a crashed one's lease lapses.
    leased_until timestamptz
);

-- Every notice, delivered or not. `notice_id` is derived from what caused the notice, so a
-- re-processed event conflicts here and is not enqueued twice. `body` holds the exact bytes
-- POSTed and signed, the same on every attempt. `seq` is the order the hotel gets them in.
CREATE TABLE notice_outbox (
    notice_id       text PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    hotel_id        text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('bags_en_route', 'bags_delivered')),
    body            bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text
);
CREATE INDEX notice_outbox_by_hotel ON notice_outbox (hotel_id, seq);
CREATE INDEX notice_outbox_pending ON notice_outbox (hotel_id, seq) WHERE delivered_at IS NULL;
