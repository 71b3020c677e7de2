-- Events the web intake answered 202 for, kept until a worker has processed that very copy,
-- when the broker does not keep messages across a restart (the embedded Tansu of
-- `tariq up` is memory only). `tariq up` publishes again what is here and unprocessed when
-- it starts. Empty and unused on real Kafka (README "Reliability").
CREATE TABLE accepted_spool (
    id          bigserial PRIMARY KEY,
    event_id    text        NOT NULL,
    key         text,
    value       text        NOT NULL,
    -- Where the broker put this copy (the journal's and duplicate receipts' `source_ref`),
    -- once it acknowledged it; NULL if we stopped in between.
    source_ref  text,
    accepted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accepted_spool_by_event ON accepted_spool (event_id);
