"""The record of what changed: sync-log entries and outbox events (written in the change's
transaction), their queries and exports, webhooks and their delivery, retention."""
