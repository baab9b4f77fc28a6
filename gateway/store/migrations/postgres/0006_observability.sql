-- Per-provider activity: requests and errors per minute, added up by every replica, and the
-- last request, success and error of each provider (the newest wins). Written a few rows
-- at a time by each replica's flush, never once per request.
CREATE TABLE provider_activity (
    provider_id  TEXT NOT NULL,
    minute       TEXT NOT NULL,   -- the minute's start, RFC 3339 UTC: 2026-01-01T09:30:00Z
    requests     BIGINT NOT NULL,
    errors       BIGINT NOT NULL,
    PRIMARY KEY (provider_id, minute)
);
CREATE INDEX provider_activity_minute ON provider_activity (minute);

CREATE TABLE provider_last_request (
    provider_id   TEXT PRIMARY KEY,
    request_at    TEXT NOT NULL,
    method        TEXT NOT NULL,
    route         TEXT NOT NULL,   -- the route template, e.g. /scim/v2/{provider}/Users/{id}
    excerpt       TEXT NOT NULL,   -- method, path and query, literal values cut short
    status        INTEGER NOT NULL,
    success_at    TEXT,
    error_at      TEXT,
    error_status  INTEGER,
    error_detail  TEXT
);

-- The W3C trace context of the request that caused an event, passed on to its webhooks.
ALTER TABLE outbox ADD COLUMN traceparent TEXT;

-- The blocked-user gauge counts these (every kind of block has its reason) without reading
-- the rest of the table.
CREATE INDEX resources_blocked ON resources (provider_id) WHERE block_reason IS NOT NULL;
