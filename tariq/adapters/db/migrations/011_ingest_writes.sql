-- Cheaper ingest writes and a deferred replay history (issue 16).

-- No read uses the journal by type: journal reads are by event_id (the primary key) or by
-- tag (journal_by_tag). The index cost a B-tree insert per event. The replay's first
-- event time, its one user, now comes from the counters (first_clock below).
DROP INDEX IF EXISTS journal_by_type;
ALTER TABLE counters ADD COLUMN first_clock timestamptz;
UPDATE counters SET first_clock = (SELECT min(occurred_at) FROM journal);

-- Room on every page for the next version of a row, so that an update which changes no
-- indexed column is a HOT update (no new index entries; pruned in place). Bags are updated
-- by every scan (stage, location, times: none indexed), pilgrims by boarding and check-in,
-- vehicles by every fix, counters by every batch. Only new pages get the room; the tables
-- of a running service fill them as they grow.
ALTER TABLE bags SET (fillfactor = 75);
ALTER TABLE pilgrims SET (fillfactor = 80);
ALTER TABLE vehicles SET (fillfactor = 50);
ALTER TABLE counters SET (fillfactor = 50);
ALTER TABLE flights SET (fillfactor = 80);

-- Bags whose replay history (migration 010) must be computed again. A judged bag is marked
-- here and its history recomputed later, once per bag however often it was judged
-- meanwhile, when the reconciler has time (stream/reconciler.py `history_round`).
CREATE TABLE history_stale (tag text PRIMARY KEY);
-- What migration 010 queued in `dirty` for existing bags goes here too.
INSERT INTO history_stale (tag) SELECT tag FROM bags ON CONFLICT DO NOTHING;

-- Bags per flight and stage, kept by the stream with each batch (stream/ingest.py): the
-- arrival airports' flow (adapters/db/airports.py) sums these few thousand rows instead of
-- grouping every bag each time the summary is read.
CREATE TABLE flight_stage_counts (
    flight_id  text     NOT NULL,
    stage_rank smallint NOT NULL,
    bags       bigint   NOT NULL,
    PRIMARY KEY (flight_id, stage_rank)
);
INSERT INTO flight_stage_counts (flight_id, stage_rank, bags)
    SELECT flight_id, stage_rank, count(*) FROM bags WHERE flight_id IS NOT NULL GROUP BY 1, 2;
