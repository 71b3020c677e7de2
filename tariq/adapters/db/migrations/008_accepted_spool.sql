-- Events the web intake answered 202 for, kept until a worker has journaled them, when the
-- broker does not keep messages across a restart (the embedded Tansu of `tariq up` is
-- memory only). `tariq up` re-publishes what is here and not in the journal when it starts.
-- Empty and unused on real Kafka (README "Reliability").
CREATE TABLE accepted_spool (
    id          bigserial PRIMARY KEY,
    event_id    text        NOT NULL,
    key         text,
    value       text        NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accepted_spool_by_event ON accepted_spool (event_id);
