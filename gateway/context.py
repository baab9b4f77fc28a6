"""RequestContext: who is changing what, carried from a request to its sync-log entry."""

from __future__ import annotations

from typing import Any

import msgspec


class RequestContext(msgspec.Struct, kw_only=True):
    """Who is changing what, for the sync log and events."""

    provider: Any  # ProviderRow, or None for the admin and the gateway's own actions
    actor: str  # "provider:<id>", "admin", "scheduler" or a plugin's name
    provider_id: str | None = None  # the provider concerned when provider is None
    refusal_logged: bool = False  # a refused write already has its sync-log entry
    request_id: str | None = None
    method: str | None = None
    path: str | None = None
    traceparent: str | None = None  # W3C trace context passed on to the events it causes
    # The batch its sync-log entries belong to: one SCIM Bulk request, one release or discard
    # of held deactivations, one plugin's run. The console lists a batch as one row.
    batch: str | None = None


def admin_context(actor: str = "admin", provider_id: str | None = None) -> RequestContext:
    """A change made by an admin (or by the gateway itself on an admin's behalf)."""
    return RequestContext(provider=None, actor=actor, provider_id=provider_id)
