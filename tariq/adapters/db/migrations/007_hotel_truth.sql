-- Hotel truth and forgiving search (issue 13; docs/contract-extensions.md).

-- A hotel's own word about a bag: `confirmed` (we received our bag) or `reported_wrong`
-- (a bag that is not ours is here). Kept per hotel, tag and action; the latest time wins.
CREATE TABLE hotel_receipts (
    hotel_id  text        NOT NULL,
    tag       text        NOT NULL,
    action    text        NOT NULL CHECK (action IN ('confirmed', 'reported_wrong')),
    at        timestamptz NOT NULL DEFAULT now(),
    token_id  text,
    note      text,
    PRIMARY KEY (hotel_id, tag, action)
);
CREATE INDEX hotel_receipts_by_tag ON hotel_receipts (tag);

-- Another hotel's bags sorted or delivered to this one (the "not ours" list).
CREATE INDEX bags_by_hotel_scan ON bags (hotel_scan_hotel) WHERE hotel_scan_hotel IS NOT NULL;

-- `eta_changed` notices (a trip's ETA for the hotel moved by 10 min or more).
ALTER TABLE notice_outbox DROP CONSTRAINT notice_outbox_kind_check;
ALTER TABLE notice_outbox ADD CONSTRAINT notice_outbox_kind_check
    CHECK (kind IN ('bags_en_route', 'bags_delivered', 'eta_changed'));

-- Prefix search, case-insensitive (upper(x) LIKE 'PREFIX%'): pattern-ops indexes work
-- whatever the database's collation.
CREATE INDEX bags_tag_prefix ON bags (tag text_pattern_ops);
CREATE INDEX pilgrims_id_prefix ON pilgrims (upper(pilgrim_id) text_pattern_ops);
CREATE INDEX pilgrims_group_prefix ON pilgrims (upper(group_id) text_pattern_ops);
CREATE INDEX flights_id_prefix ON flights (upper(flight_id) text_pattern_ops);
CREATE INDEX hotels_id_prefix ON hotels (upper(hotel_id) text_pattern_ops);
CREATE INDEX hotels_name_prefix ON hotels (upper(name) text_pattern_ops);
CREATE INDEX vehicles_id_prefix ON vehicles (upper(vehicle_id) text_pattern_ops);

-- The ETA each hotel was last told for a truck's trip (a trip is known by its departure
-- from the airport): `bags_en_route` sets it, `eta_changed` moves it (stream/reconciler.py).
CREATE TABLE trip_etas (
    vehicle_id  text        NOT NULL,
    hotel_id    text        NOT NULL,
    departed_at timestamptz NOT NULL,
    eta         timestamptz,
    PRIMARY KEY (vehicle_id, hotel_id, departed_at)
);

-- Alert triage by operators: acknowledged (who, when), assigned to someone, a note.
CREATE TABLE alert_triage (
    alert_id        text PRIMARY KEY,
    acknowledged_at timestamptz,
    acknowledged_by text,
    assignee        text,
    note            text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text
);
