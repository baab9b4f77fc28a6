-- Equality lookups (externalId eq, displayName eq) come back in the list order (created, id),
-- so the planner can answer them from their own index instead of walking the whole provider
-- in list order; `hidden` joins the list index so paging and totals never read table rows.
DROP INDEX resources_external;
CREATE INDEX resources_external ON resources (provider_id, type, external_id, hidden, created, id);
DROP INDEX resources_display;
CREATE INDEX resources_display ON resources (provider_id, type, display_key, hidden, created, id);
DROP INDEX resources_list;
CREATE INDEX resources_list ON resources (provider_id, type, hidden, created, id);
