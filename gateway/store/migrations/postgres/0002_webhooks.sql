-- Webhooks and their delivery state. A webhook's cursor is the last outbox seq it has
-- scanned; each matching event becomes a delivery row that lives until it is delivered
-- (deleted) or parked (status 'dead'). All of it survives a restart.
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,   -- the HMAC key the receiver shares; never returned or logged
    events      JSONB NOT NULL,  -- list of event types, or ["*"]
    cursor      BIGINT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE deliveries (
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL,
    resource_key     TEXT NOT NULL,   -- events of one resource are delivered in seq order
    status           TEXT NOT NULL,   -- 'pending' or 'dead'
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    last_attempt_at  TEXT,
    PRIMARY KEY (webhook_id, seq)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_order ON deliveries (webhook_id, resource_key, status, seq);
