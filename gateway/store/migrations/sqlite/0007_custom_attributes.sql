-- A provider's custom attributes (gateway/scim/custom.py), one row per declared attribute.
-- attr_key is lower(schema_urn || ':' || name): attribute names and URNs ignore case.
CREATE TABLE custom_attributes (
    provider_id    TEXT NOT NULL,
    attr_key       TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    schema_urn     TEXT NOT NULL,
    name           TEXT NOT NULL,
    definition     TEXT NOT NULL,   -- JSON: type, multi_valued, case_exact, description, ...
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (provider_id, attr_key)
) WITHOUT ROWID;

-- Attributes a provider's IdP sent that nothing declares, kept as received: how many writes
-- carried each, the kinds of value seen (bits, OR-ed together by each write: see
-- gateway.scim.custom.KIND_BITS) and the latest value, cut short.
CREATE TABLE undeclared_attributes (
    provider_id    TEXT NOT NULL,
    attr_key       TEXT NOT NULL,   -- lower(path)
    resource_type  TEXT NOT NULL,
    path           TEXT NOT NULL,   -- urn:...:name, as first seen
    count          INTEGER NOT NULL,
    kinds          INTEGER NOT NULL,
    example        TEXT NOT NULL,   -- JSON
    first_seen     TEXT NOT NULL,
    last_seen      TEXT NOT NULL,
    PRIMARY KEY (provider_id, attr_key)
) WITHOUT ROWID;

-- Changes with every change of the provider's declarations. It is read with the provider on
-- every request, so each process knows at once whether the schema it built is current.
ALTER TABLE providers ADD COLUMN schema_tag TEXT NOT NULL DEFAULT '';
