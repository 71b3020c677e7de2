-- Cheaper ingest writes (issue 16).

-- No read uses the journal by type: every journal read is by event_id (the primary key)
-- or by tag (journal_by_tag). The index cost a B-tree insert per event.
DROP INDEX IF EXISTS journal_by_type;

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
