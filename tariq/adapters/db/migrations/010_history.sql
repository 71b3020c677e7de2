-- History in event time for the operators' replay (docs/dashboards.md "Replay"): when each
-- bag alert's condition held and each bag's stage at every instant, computed from the
-- journal by tariq/domain/history.py whenever the bag, its flight or its pilgrim changes
-- (the reconciler rewrites a bag's rows each time it judges the bag). Vehicles need no
-- table: their positions and stalls at an instant come from vehicle_fixes.

-- [began_at, ended_at): the alert's condition held (ended_at NULL: still holds).
CREATE TABLE alert_spans (
    tag        text        NOT NULL,
    type       text        NOT NULL,
    began_at   timestamptz NOT NULL,
    ended_at   timestamptz,
    pilgrim_id text,
    flight_id  text,
    hotel_id   text,
    PRIMARY KEY (tag, type, began_at),
    CHECK (ended_at IS NULL OR ended_at > began_at)
);
-- "Open at T": the spans whose range contains T.
CREATE INDEX alert_spans_during ON alert_spans USING gist (tstzrange(began_at, ended_at, '[)'));

-- [since, until): the bag was at this stage (until NULL: still is).
CREATE TABLE bag_steps (
    tag   text        NOT NULL,
    since timestamptz NOT NULL,
    until timestamptz,
    stage text        NOT NULL,
    PRIMARY KEY (tag, since),
    CHECK (until IS NULL OR until > since)
);
CREATE INDEX bag_steps_during ON bag_steps USING gist (tstzrange(since, until, '[)'));

-- Bags already in the database get their history on the reconciler's next rounds.
INSERT INTO dirty (kind, key) SELECT 'bag', tag FROM bags;
