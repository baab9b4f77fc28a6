"""RequestContext: who is changing what, carried from a request to its sync-log entry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import msgspec

# The batch being written, for the entries that hooks record meanwhile (a plugin's reaction
# to each user of a Bulk request belongs to the request's batch).
_BATCH: ContextVar[str | None] = ContextVar("sync_log_batch", default=None)


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


def current_batch() -> str | None:
    """The batch of the request or run in progress, if it is one."""
    return _BATCH.get()


@contextmanager
def in_batch(batch: str | None) -> Iterator[None]:
    """While inside, what hooks record without a batch of their own joins ``batch``."""
    token = _BATCH.set(batch)
    try:
        yield
    finally:
        _BATCH.reset(token)
