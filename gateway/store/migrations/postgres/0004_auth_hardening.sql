-- A request's credential is looked up by the hash of the secret it presents (one index probe
-- whatever the number of live access tokens), not compared with each of them; a provider's
-- standing credentials (no expiry, not revoked) have an index of their own.
CREATE INDEX credentials_hash ON credentials (secret_hash);
CREATE INDEX credentials_standing ON credentials (provider_id)
    WHERE expires_at IS NULL AND revoked_at IS NULL;

-- Authentication failures, counted per provider, reason and minute: a flood adds to a count,
-- never a row per request. provider_id '' is the admin API, '-' an id that names no provider.
CREATE TABLE auth_failures (
    provider_id  TEXT NOT NULL,
    minute       TEXT COLLATE "C" NOT NULL,   -- YYYY-MM-DDTHH:MMZ, UTC
    reason       TEXT NOT NULL,   -- no_credential, wrong_scheme, unknown_credential, ...
    count        INTEGER NOT NULL,
    PRIMARY KEY (provider_id, minute, reason)
);
CREATE INDEX auth_failures_minute ON auth_failures (minute);
