-- Where each input partition's latest batch left it (contract v1.1 section 2: the clock of
-- deadline rules must not run ahead of input accepted and not yet processed). Written with
-- the counters in the batch's transaction: the next offset to process and the partition's
-- end (high watermark) as the consumer saw it, both only ever growing (batches in flight
-- may commit out of order), and the wall time of that report. The lag is their difference.
ALTER TABLE counters
    ADD COLUMN input_offset bigint,
    ADD COLUMN input_end    bigint,
    ADD COLUMN lag_at       timestamptz;

