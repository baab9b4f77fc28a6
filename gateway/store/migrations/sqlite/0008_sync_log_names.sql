-- The sync log for people: each entry keeps the name of what it is about as it was then
-- (a user's userName, a group's displayName), so a deleted user is still found by name, and
-- the batch it belongs to (one SCIM Bulk request, one release or discard of held
-- deactivations, one plugin's run), shown as one row that opens to its entries. Entries
-- written before this migration have neither: the list names them from the resource.
ALTER TABLE sync_log ADD COLUMN subject TEXT;
ALTER TABLE sync_log ADD COLUMN batch TEXT;
CREATE INDEX sync_log_subject ON sync_log (lower(subject), seq);
-- A list of batches skips the entries of a batch but its newest on these indexes alone.
CREATE INDEX sync_log_batch ON sync_log (batch, seq, provider_id, outcome)
    WHERE batch IS NOT NULL;
DROP INDEX sync_log_provider;
CREATE INDEX sync_log_provider ON sync_log (provider_id, seq, batch);
