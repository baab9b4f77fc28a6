-- Organizations (a tree) and the roles catalogue added through the admin API; the roles of
-- the config file's [org_mapping] section are merged in when read and are not stored here.
CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,          -- lower(name): names are case-insensitive
    parent_id   TEXT REFERENCES organizations (id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX organizations_parent ON organizations (parent_id);

CREATE TABLE organization_default_roles (
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    role             TEXT NOT NULL,
    PRIMARY KEY (organization_id, role)
);

CREATE TABLE roles (
    name         TEXT PRIMARY KEY,
    name_key     TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL
);

-- One row per provider whose mapping was set (or whose default organization was created).
CREATE TABLE org_mapping_providers (
    provider_id              TEXT PRIMARY KEY,
    method                   TEXT,             -- single | attribute | scim_groups | NULL
    organization_id          TEXT REFERENCES organizations (id),
    attribute                TEXT,
    default_organization_id  TEXT REFERENCES organizations (id),
    updated_at               TEXT NOT NULL
);

CREATE TABLE org_group_mappings (
    provider_id      TEXT NOT NULL,
    group_id         TEXT NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    priority         INTEGER NOT NULL,
    PRIMARY KEY (provider_id, group_id)
);

CREATE TABLE role_group_mappings (
    provider_id  TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    role         TEXT NOT NULL,
    PRIMARY KEY (provider_id, group_id, role)
);

-- Where each provisioned user is now: its organization and its roles.
CREATE TABLE org_mapping_users (
    user_id          TEXT PRIMARY KEY,
    provider_id      TEXT NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    updated_at       TEXT NOT NULL
);
CREATE INDEX org_mapping_users_org ON org_mapping_users (organization_id);
CREATE INDEX org_mapping_users_provider ON org_mapping_users (provider_id, user_id);

CREATE TABLE org_mapping_user_roles (
    user_id  TEXT NOT NULL,
    role     TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);
