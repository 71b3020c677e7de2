-- Links to pilgrims' own pages (contract section 7): only the SHA-256 of each link is kept,
-- like API tokens. A pilgrim may have several live links (each printing of a card issues
-- one); revoking ends them all at once.
CREATE TABLE pilgrim_links (
    link_hash  text PRIMARY KEY,
    pilgrim_id text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX pilgrim_links_by_pilgrim ON pilgrim_links (pilgrim_id) WHERE revoked_at IS NULL;
