-- "Apply org and role settings": the last run for each provider, updated in the transaction
-- of each page of users it applies (so what it says was done is committed, on any replica).
-- A run that stops updating (the app stopped mid-run) is taken over by the next apply.
CREATE TABLE org_mapping_apply_runs (
    provider_id           TEXT PRIMARY KEY,
    run_id                TEXT NOT NULL,
    state                 TEXT NOT NULL,      -- running | done | failed
    actor                 TEXT NOT NULL,
    started_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    finished_at           TEXT,
    total                 INTEGER NOT NULL,   -- the provider's users when the run started
    done                  INTEGER NOT NULL,
    changed               INTEGER NOT NULL,
    organization_changed  INTEGER NOT NULL,
    roles_changed         INTEGER NOT NULL,
    watchlists_changed    INTEGER NOT NULL,
    error                 TEXT
);
