"""The sync log and the outbox: written in the transaction of the change they describe."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.core import Gateway, RequestContext
from gateway.store.base import Conn

_json = msgspec.json


# Attributes never written to the sync log or events, at any depth.
SECRET_KEYS = {"password"}


def scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k.lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def _clean(value: Any) -> tuple[Any, str]:
    """The value without secrets, and its JSON. Encoding first and scrubbing only when a
    secret's name appears at all keeps the common case (no secret: the core never stores
    one) from copying the whole document."""
    text = _json.encode(value).decode()
    if any(key in text.lower() for key in SECRET_KEYS):
        value = scrub(value)
        text = _json.encode(value).decode()
    return value, text


def _dump(value: Any) -> str | None:
    return None if value is None else _clean(value)[1]


def provider_id(ctx: RequestContext) -> str | None:
    return getattr(ctx.provider, "id", None) or ctx.provider_id


async def log_entry(gw: Gateway, conn: Conn, ctx: RequestContext, *, operation: str,
                    resource_type: str | None, resource_id: str | None,
                    before: Any = None, after: Any = None, outcome: str = "success",
                    status: int | None = None, detail: str | None = None,
                    reason: str | None = None) -> None:
    await conn.execute(
        "INSERT INTO sync_log (at, provider_id, actor, request_id, method, path, resource_type,"
        " resource_id, operation, before, after, outcome, status, detail, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (gw.clock.stamp(), provider_id(ctx), ctx.actor, ctx.request_id, ctx.method, ctx.path,
         resource_type, resource_id, operation, _dump(before), _dump(after), outcome, status,
         detail, reason),
    )


async def emit(gw: Gateway, conn: Conn, ctx: RequestContext, event_type: str, *,
               resource_type: str | None, resource_id: str | None, data: dict) -> dict:
    """Append an outbox event; run the in-transaction after_change hooks; return it."""
    occurred_at = gw.clock.stamp()
    data, payload = _clean(data)
    pid = provider_id(ctx)
    seq = await conn.fetchval(
        "INSERT INTO outbox (type, provider_id, resource_type, resource_id, occurred_at, data)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
        (event_type, pid, resource_type, resource_id, occurred_at, payload),
    )
    event = {
        "seq": seq, "type": event_type, "provider": pid, "occurred_at": occurred_at,
        "resource_type": resource_type, "resource_id": resource_id, "data": data,
    }
    await gw.hooks.all("after_change", event=event, conn=conn, gateway=gw)
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
    async with gw.store.write() as conn:
        await log_entry(gw, conn, ctx, operation=operation, resource_type=resource_type,
                        resource_id=resource_id, after=attempted, outcome="error",
                        status=status, detail=detail)
