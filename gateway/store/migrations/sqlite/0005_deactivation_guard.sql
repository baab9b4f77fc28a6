-- Blocks beside the lifecycle state, and the mass-deactivation guard (docs/lifecycle.md).
--
-- block_reason says why a user cannot sign in while its account is still live: the admin's
-- block or a policy's (state 'blocked'), the deactivation delay ('deactivation_pending',
-- state 'pending_deactivation') or the guard ('deactivation_held', state
-- 'deactivation_held'). NULL: not blocked. Users blocked before this migration take the
-- reason of the change that blocked them, from the sync log while it still has it.
ALTER TABLE resources ADD COLUMN block_reason TEXT;
UPDATE resources SET block_reason = COALESCE(
    (SELECT s.reason FROM sync_log s WHERE s.resource_id = resources.id
     AND s.reason IS NOT NULL ORDER BY s.seq DESC LIMIT 1), 'admin_block')
    WHERE state = 'blocked';

-- The guard compares deactivations with the provider's active users: counted from this
-- index alone (it holds only active users and every column the count names), never from
-- the users' rows.
CREATE INDEX resources_active ON resources (provider_id, type, state, hidden)
    WHERE type = 'User' AND state = 'active' AND hidden = 0;

-- One row per provider whose guard was set or used; a provider without one has the
-- defaults and is armed. Deactivations of one provider take this row's lock in turn.
CREATE TABLE deactivation_guards (
    provider_id    TEXT PRIMARY KEY,
    enabled        INTEGER NOT NULL DEFAULT 1,
    max_users      INTEGER NOT NULL DEFAULT 25,
    max_percent    REAL NOT NULL DEFAULT 10,
    window_length  TEXT NOT NULL DEFAULT '60m',
    state          TEXT NOT NULL DEFAULT 'armed',   -- armed | tripped
    trips          INTEGER NOT NULL DEFAULT 0,      -- trips so far; the current one's number
    tripped_at     TEXT,
    trip_count     INTEGER,                         -- deactivations in the window at the trip
    trip_base      INTEGER,                         -- active users the trip compared with
    first_held     TEXT,                            -- the trip's first and latest held users
    last_held      TEXT,
    base_users     INTEGER,                         -- active users when the window began
    base_at        TEXT,
    ending_until   TEXT,                            -- a release or discard is under way
    updated_at     TEXT NOT NULL
);

-- Users a provider started deactivating (active=false or DELETE) recently: the window.
CREATE TABLE deactivation_guard_changes (
    provider_id  TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (provider_id, resource_id)
) WITHOUT ROWID;
CREATE INDEX deactivation_guard_changes_at ON deactivation_guard_changes (provider_id, at);

-- Deactivations the guard holds: released (they proceed) or discarded (undone) by the admin.
CREATE TABLE deactivation_guard_held (
    resource_id  TEXT PRIMARY KEY,
    provider_id  TEXT NOT NULL,
    trip         INTEGER NOT NULL,
    change       TEXT NOT NULL,                     -- deactivate | delete
    held_at      TEXT NOT NULL,
    groups       TEXT NOT NULL DEFAULT '[]'         -- JSON: the groups a held DELETE left
);
CREATE INDEX deactivation_guard_held_provider
    ON deactivation_guard_held (provider_id, held_at, resource_id);
