-- Input and personal data (contract v1.1, issue 11): dead letters masked and truncated
-- with the original's length and SHA-256; a keyed hash of the passport number per
-- pilgrim (never the number); the key of that hash when TARIQ_PII_KEY is not set.

ALTER TABLE dead_letters
    ADD COLUMN length    bigint,
    ADD COLUMN sha256    text,
    ADD COLUMN truncated boolean NOT NULL DEFAULT false;

-- Rows kept before: describe the original, then mask passport numbers and truncate.
UPDATE dead_letters SET length = octet_length(raw), sha256 = encode(sha256(raw), 'hex');
UPDATE dead_letters
   SET raw = decode(regexp_replace(encode(raw, 'escape'),
                                   '("passport_no"\s*:\s*)"[^"]*"', '\1"[masked]"', 'g'),
                    'escape')
 WHERE position('passport_no'::bytea IN raw) > 0;
UPDATE dead_letters SET raw = substring(raw FROM 1 FOR 65536), truncated = true
 WHERE octet_length(raw) > 65536;
ALTER TABLE dead_letters ALTER COLUMN length SET NOT NULL, ALTER COLUMN sha256 SET NOT NULL;

-- The journal keeps events as received, except passport numbers.
UPDATE journal
   SET payload = regexp_replace(payload, '("passport_no"\s*:\s*)"(?:[^"\\]|\\.)*"',
                                '\1"[masked]"', 'g')
 WHERE type = 'pilgrim.registered' AND payload LIKE '%passport_no%';

ALTER TABLE pilgrims ADD COLUMN passport_hash text;
CREATE INDEX pilgrims_by_passport ON pilgrims (passport_hash) WHERE passport_hash IS NOT NULL;

CREATE TABLE service_keys (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);

-- Events journaled before these rules with a `\u0000` escape in some string (jsonb
-- refuses it, so reading the bag's history failed): the escape becomes U+FFFD.
UPDATE journal SET payload = replace(payload, '\u0000', '\ufffd')
 WHERE strpos(payload, '\u0000') > 0;
