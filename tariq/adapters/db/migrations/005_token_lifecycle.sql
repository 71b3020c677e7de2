-- Tokens get a public id, an expiry, a revocation time and (device tokens) a vehicle they are
-- bound to (contract v1.1 sections 3 and 6). The id is the first 12 hex digits of the
-- SHA-256 hash: it names a token in `tariq token list/revoke` and reveals nothing usable.
ALTER TABLE tokens
    ADD COLUMN token_id   text GENERATED ALWAYS AS (substr(token_hash, 1, 12)) STORED,
    ADD COLUMN vehicle_id text,
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN revoked_at timestamptz,
    ADD CONSTRAINT tokens_vehicle_only_device CHECK (vehicle_id IS NULL OR role = 'device');

CREATE UNIQUE INDEX tokens_token_id ON tokens (token_id);
