-- Reconciliation: facts about flights, pilgrims and boardings (merged so that any order
-- of events gives the same row), the bag facts the alert rules need, alerts, and the
-- markers that tell the reconciler what to look at again.

ALTER TABLE bags
    ADD COLUMN scanned          boolean NOT NULL DEFAULT false,
    ADD COLUMN loaded_seen      boolean NOT NULL DEFAULT false,
    ADD COLUMN hotel_scan_hotel text,
    ADD COLUMN hotel_scan_at    timestamptz,
    ADD COLUMN hotel_scan_event_id text,
    ADD COLUMN delivered_hotels text[] NOT NULL DEFAULT '{}',
    ADD COLUMN last_drop_at     timestamptz,
    ADD COLUMN truck_vehicle_id text,
    ADD COLUMN truck_at         timestamptz,
    ADD COLUMN truck_event_id   text;
CREATE INDEX bags_by_truck ON bags (truck_vehicle_id) WHERE truck_vehicle_id IS NOT NULL;

CREATE TABLE hotels (
    hotel_id   text PRIMARY KEY,
    name       text,
    city       text,
    lat        double precision,
    lon        double precision,
    at         timestamptz,
    event_id   text
);

CREATE TABLE flights (
    flight_id           text PRIMARY KEY,
    origin              text,
    destination         text,
    scheduled_departure timestamptz,
    scheduled_arrival   timestamptz,
    scheduled_at        timestamptz,
    scheduled_event_id  text,
    departed_at         timestamptz,
    arrived_at          timestamptz
);
CREATE INDEX flights_by_arrival ON flights (arrived_at) WHERE arrived_at IS NOT NULL;

CREATE TABLE pilgrims (
    pilgrim_id     text PRIMARY KEY,
    group_id       text,
    flight_id      text,
    hotel_id       text,
    nationality    text,
    name           text,
    registered_at  timestamptz,
    registered_event_id text,
    arrived_airport text,
    arrived_at     timestamptz,
    bus_vehicle_id text,
    bus_boarded_at timestamptz,
    bus_event_id   text,
    -- the latest check-in at any hotel (earliest per hotel: the checkins table)
    last_checkin_at timestamptz
);
CREATE INDEX pilgrims_by_bus ON pilgrims (bus_vehicle_id) WHERE bus_vehicle_id IS NOT NULL;

-- (pilgrim, hotel, earliest check-in) for the deadline query of delivery_overdue.
CREATE TABLE checkins (
    pilgrim_id text NOT NULL,
    hotel_id   text NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (pilgrim_id, hotel_id)
);
CREATE INDEX checkins_by_time ON checkins (at);
CREATE INDEX pilgrims_by_flight ON pilgrims (flight_id);
CREATE INDEX pilgrims_by_hotel ON pilgrims (hotel_id);

CREATE TABLE boardings (
    pilgrim_id text NOT NULL,
    flight_id  text NOT NULL,
    boarded_at timestamptz NOT NULL,
    PRIMARY KEY (pilgrim_id, flight_id)
);
CREATE INDEX boardings_by_flight ON boardings (flight_id);

CREATE TABLE vehicles (
    vehicle_id   text PRIMARY KEY,
    kind         text,
    lat          double precision,
    lon          double precision,
    speed_kmh    double precision,
    heading      double precision,
    at           timestamptz,
    event_id     text
);

-- The reconciler's judgement of each vehicle (only it writes here, so it never contends
-- with the workers' writes of positions): when a stall would begin to count, and status.
CREATE TABLE vehicle_judgements (
    vehicle_id   text PRIMARY KEY,
    status       text NOT NULL,
    stall_due_at timestamptz,
    -- the current trip: when its latest loading happened, its planned stops with ETAs
    -- ([{hotel_id, eta}] as JSON text), and the next stop with loads still on board
    trip_since   timestamptz,
    plan         text,
    planned_at   timestamptz,
    next_stop    text,
    eta          timestamptz
);
CREATE INDEX vehicle_judgements_by_due ON vehicle_judgements (stall_due_at)
    WHERE stall_due_at IS NOT NULL;

CREATE TABLE vehicle_fixes (
    vehicle_id text NOT NULL,
    at         timestamptz NOT NULL,
    event_id   text NOT NULL,
    lat        double precision NOT NULL,
    lon        double precision NOT NULL,
    PRIMARY KEY (vehicle_id, at, event_id)
);

-- Entities whose alerts must be judged again. Plain inserts (no de-duplication): the
-- reconciler deletes only rows it can see, i.e. committed together with their facts.
CREATE TABLE dirty (
    id   bigserial PRIMARY KEY,
    kind text NOT NULL,
    key  text NOT NULL
);

CREATE TABLE alerts (
    alert_id    text PRIMARY KEY,
    type        text NOT NULL,
    subject     text NOT NULL,
    status      text NOT NULL CHECK (status IN ('open', 'resolved')),
    raised_at   timestamptz NOT NULL,
    resolved_at timestamptz,
    tag         text,
    pilgrim_id  text,
    flight_id   text,
    hotel_id    text,
    vehicle_id  text
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (type, subject) WHERE status = 'open';
CREATE INDEX alerts_by_status_type ON alerts (status, type);
CREATE INDEX alerts_open_by_subject ON alerts (subject) WHERE status = 'open';
CREATE INDEX alerts_by_tag ON alerts (tag) WHERE tag IS NOT NULL;
CREATE INDEX alerts_by_flight ON alerts (flight_id) WHERE flight_id IS NOT NULL;
CREATE INDEX alerts_by_hotel ON alerts (hotel_id) WHERE hotel_id IS NOT NULL;

-- The reconciler's progress in event time (deadlines before it have been judged).
CREATE TABLE reconciler_state (
    id    int PRIMARY KEY CHECK (id = 1),
    clock timestamptz,
    round bigint NOT NULL DEFAULT 0
);
INSERT INTO reconciler_state (id) VALUES (1);
