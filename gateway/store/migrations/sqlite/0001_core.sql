-- Core tables. Timestamps are RFC 3339 UTC strings with microseconds, so they sort as text.
CREATE TABLE providers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    plugin      TEXT,
    auth_kind   TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);

-- Every secret the gateway checks: provider bearer tokens, basic passwords, OAuth client
-- secrets and access tokens, admin tokens. Only a hash is stored.
CREATE TABLE credentials (
    id           TEXT PRIMARY KEY,
    provider_id  TEXT NOT NULL,            -- '' for admin credentials
    kind         TEXT NOT NULL,
    username     TEXT,
    secret_hash  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT
);
CREATE INDEX credentials_provider ON credentials (provider_id, kind);

-- Users and groups. provider_id '' marks a local user (created by the admin).
-- name_key is lower(userName) for users; NULL for groups, whose displayName is not unique.
CREATE TABLE resources (
    provider_id    TEXT NOT NULL,
    id             TEXT PRIMARY KEY,
    type           TEXT NOT NULL,
    external_id    TEXT,
    name_key       TEXT,
    display_key    TEXT,
    data           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    created        TEXT NOT NULL,
    last_modified  TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'active',
    deactivate_at  TEXT,
    hidden         INTEGER NOT NULL DEFAULT 0   -- deleted by its provider, kept for lifecycle
);
CREATE UNIQUE INDEX resources_name ON resources (provider_id, type, name_key);
CREATE INDEX resources_external ON resources (provider_id, type, external_id);
CREATE INDEX resources_display ON resources (provider_id, type, display_key);
CREATE INDEX resources_list ON resources (provider_id, type, created, id);

-- Membership is rows: adding 100 members costs 100 inserts whatever the group's size.
CREATE TABLE members (
    provider_id  TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX members_member ON members (member_id, group_id);

CREATE TABLE sync_log (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    provider_id    TEXT,
    actor          TEXT NOT NULL,
    request_id     TEXT,
    method         TEXT,
    path           TEXT,
    resource_type  TEXT,
    resource_id    TEXT,
    operation      TEXT NOT NULL,
    before         TEXT,
    after          TEXT,
    outcome        TEXT NOT NULL,
    status         INTEGER,
    detail         TEXT,
    reason         TEXT
);
CREATE INDEX sync_log_provider ON sync_log (provider_id, seq);
CREATE INDEX sync_log_resource ON sync_log (resource_id, seq);
CREATE INDEX sync_log_at ON sync_log (at);

CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    type           TEXT NOT NULL,
    provider_id    TEXT,
    resource_type  TEXT,
    resource_id    TEXT,
    occurred_at    TEXT NOT NULL,
    data           TEXT NOT NULL
);
CREATE INDEX outbox_resource ON outbox (resource_id, seq);

-- Scheduled lifecycle actions (delayed deactivation). A due row is claimed, run, deleted.
CREATE TABLE lifecycle (
    resource_id  TEXT PRIMARY KEY,
    provider_id  TEXT NOT NULL,
    action       TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    reason       TEXT,
    claimed_by   TEXT,
    claimed_at   TEXT
);
CREATE INDEX lifecycle_due ON lifecycle (due_at);
