"""The record of a change: its sync-log entry and its outbox event, written through the
connection of the change's own transaction so that all three commit together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from gateway.context import RequestContext
from gateway.events.scrub import clean, dump, secrets_of
from gateway.store import names, outbox, synclog
from gateway.store.base import Conn

if TYPE_CHECKING:
    from gateway.core import Gateway


def _kept(text: str | None) -> str | None:
    """Request text as the sync log keeps it: a NUL (which PostgreSQL cannot store) in a
    refused request's path or in an error that echoes it is written as the escape `\\u0000`,
    so that the refusal is recorded on both stores."""
    return text.replace("\x00", "\\u0000") if text and "\x00" in text else text


def excerpt(text: str | None, limit: int) -> str | None:
    """A refused body as the sync log keeps it: whole up to `limit` characters of JSON,
    else its first `limit` characters with its full size (a refusal is evidence, not a
    copy: 50 refusals of a 2 MiB body must not add 100 MB to the log)."""
    if text is None or len(text) <= limit:
        return text
    return msgspec.json.encode({"truncated": True, "characters": len(text),
                                "excerpt": text[:limit]}).decode()


UNCHANGED = "unchanged"  # the outcome of a write that changed nothing


def provider_id(ctx: RequestContext) -> str | None:
    return getattr(ctx.provider, "id", None) or ctx.provider_id


NAMED_BY = {"User": "userName", "Group": "displayName"}


async def subject_of(conn: Conn, resource_type: str | None, resource_id: str | None,
                     before: Any, after: Any) -> str | None:
    """The name of what an entry is about, as it is now (a user's userName, a group's
    displayName; another kind's `name`, such as a plugin's organization): from what the
    entry records when it holds the name (most writes), else, for a user or a group, one
    lookup by primary key (a lifecycle step, a plugin's change)."""
    key = NAMED_BY.get(resource_type or "", "name")
    for doc in (after, before):
        if isinstance(doc, dict) and isinstance(doc.get(key), str):
            return str(doc[key])[:NAME_LIMIT]
    if key == "name" or not resource_id or "\x00" in resource_id:
        return None
    found = names.name_of((await names.resource_names(conn, [resource_id])).get(resource_id))
    return found[:NAME_LIMIT] if found else None


NAME_LIMIT = 256  # characters of a name an entry keeps


async def log_entry(gw: Gateway, conn: Conn, ctx: RequestContext, *, operation: str,
                    resource_type: str | None, resource_id: str | None,
                    before: Any = None, after: Any = None, outcome: str = "success",
                    status: int | None = None, detail: str | None = None,
                    reason: str | None = None) -> None:
    secrets = secrets_of(gw.registry)
    after_text = dump(after, secrets)
    if outcome != "success":
        limit = gw.settings.sync_log_excerpt
        after_text = excerpt(after_text, limit)
        detail = detail if detail is None or len(detail) <= limit else detail[:limit] + "…"
    await synclog.insert(conn, {
        "subject": await subject_of(conn, resource_type, resource_id, before, after),
        "batch": ctx.batch, "at": gw.clock.stamp(), "provider_id": provider_id(ctx),
        "actor": ctx.actor,
        "request_id": ctx.request_id, "method": ctx.method, "path": _kept(ctx.path),
        "resource_type": resource_type, "resource_id": _kept(resource_id),
        "operation": operation, "before": dump(before, secrets), "after": after_text,
        "outcome": outcome, "status": status, "detail": _kept(detail), "reason": reason,
    })


async def emit(gw: Gateway, conn: Conn, ctx: RequestContext, event_type: str, *,
               resource_type: str | None, resource_id: str | None, data: dict) -> dict:
    """Append an outbox event; run the in-transaction after_change hooks; return it."""
    occurred_at = gw.clock.stamp()
    data, payload = clean(data, secrets_of(gw.registry))
    pid = provider_id(ctx)
    seq = await outbox.insert(conn, event_type, pid, resource_type, resource_id, occurred_at,
                              payload, ctx.traceparent)
    event = {
        "seq": seq, "type": event_type, "provider": pid, "occurred_at": occurred_at,
        "resource_type": resource_type, "resource_id": resource_id, "data": data,
        "traceparent": ctx.traceparent,
    }
    await gw.hooks.call("after_change", event=event, conn=conn, gateway=gw)
    return event


async def record(gw: Gateway, conn: Conn, ctx: RequestContext, *, operation: str,
                 event_type: str, resource_type: str, resource_id: str, before: Any,
                 after: Any, data: dict, reason: str | None = None,
                 detail: str | None = None) -> dict:
    """One successful change: its sync-log entry (with ``detail``, a note for the admin)
    and its event."""
    await log_entry(gw, conn, ctx, operation=operation, resource_type=resource_type,
                    resource_id=resource_id, before=before, after=after, reason=reason,
                    detail=detail)
    return await emit(gw, conn, ctx, event_type, resource_type=resource_type,
                      resource_id=resource_id, data=data)


async def log_unchanged(gw: Gateway, conn: Conn, ctx: RequestContext, *, operation: str,
                        resource_type: str, resource_id: str, received: Any,
                        detail: str | None = None) -> None:
    """A write that changed nothing (an IdP pushing the same values again, as Okta's Force
    Sync does): its sync-log entry, with what was received (and ``detail``, a note for the
    admin), and no event."""
    await log_entry(gw, conn, ctx, operation=operation, resource_type=resource_type,
                    resource_id=resource_id, after=received, outcome=UNCHANGED, detail=detail)


async def log_failure(gw: Gateway, ctx: RequestContext, *, operation: str,
                      resource_type: str | None, resource_id: str | None, status: int,
                      detail: str, attempted: Any = None) -> None:
    """A refused provisioning request, in its own transaction (the change itself rolled back)."""
    ctx.refusal_logged = True
    gw.metrics.refused(provider_id(ctx), resource_type)
    async with gw.store.write() as conn:
        await log_entry(gw, conn, ctx, operation=operation, resource_type=resource_type,
                        resource_id=resource_id, after=attempted, outcome="error",
                        status=status, detail=detail)


async def committed(gw: Gateway, events: list[dict]) -> None:
    """After a transaction has committed: the after_commit hooks, with its events."""
    if events:
        gw.metrics.committed(events)
        await gw.hooks.call("after_commit", events=events, gateway=gw)
