-- Watchlists: a catalogue like the roles (the config file's [org_mapping] watchlists are
-- merged in when read and not stored here), a per-provider mapping of SCIM groups to
-- watchlists, and the watchlists each provisioned user is on now.
CREATE TABLE watchlists (
    name         TEXT PRIMARY KEY,
    name_key     TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL
);

CREATE TABLE watchlist_group_mappings (
    provider_id  TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    watchlist    TEXT NOT NULL,
    PRIMARY KEY (provider_id, group_id, watchlist)
);

CREATE TABLE org_mapping_user_watchlists (
    user_id    TEXT NOT NULL,
    watchlist  TEXT NOT NULL,
    PRIMARY KEY (user_id, watchlist)
);
