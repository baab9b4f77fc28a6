"""The record of a change: its sync-log entry and its outbox event, written through the
connection of the change's own transaction so that all three commit together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.context import RequestContext
from gateway.events.scrub import clean, dump
from gateway.store import outbox, synclog
from gateway.store.base import Conn

if TYPE_CHECKING:
    from gateway.core import Gateway


def provider_id(ctx: RequestContext) -> str | None:
    return getattr(ctx.provider, "id", None) or ctx.provider_id


async def log_entry(gw: Gateway, conn: Conn, ctx: RequestContext, *, operation: str,
                    resource_type: str | None, resource_id: str | None,
                    before: Any = None, after: Any = None, outcome: str = "success",
                    status: int | None = None, detail: str | None = None,
                    reason: str | None = None) -> None:
    await synclog.insert(conn, {
        "at": gw.clock.stamp(), "provider_id": provider_id(ctx), "actor": ctx.actor,
        "request_id": ctx.request_id, "method": ctx.method, "path": ctx.path,
        "resource_type": resource_type, "resource_id": resource_id, "operation": operation,
        "before": dump(before), "after": dump(after), "outcome": outcome, "status": status,
        "detail": detail, "reason": reason,
    })


async def emit(gw: Gateway, conn: Conn, ctx: RequestContext, event_type: str, *,
               resource_type: str | None, resource_id: str | None, data: dict) -> dict:
    """Append an outbox event; run the in-transaction after_change hooks; return it."""
    occurred_at = gw.clock.stamp()
    data, payload = clean(data)
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
                 after: Any, data: dict, reason: str | None = None) -> dict:
    """One successful change: its sync-log entry and its event."""
    await log_entry(gw, conn, ctx, operation=operation, resource_type=resource_type,
                    resource_id=resource_id, before=before, after=after, reason=reason)
    return await emit(gw, conn, ctx, event_type, resource_type=resource_type,
                      resource_id=resource_id, data=data)


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
