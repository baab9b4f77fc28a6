"""The event feed: outbox events in sequence order, for pull consumers and webhooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.store import outbox
from gateway.store.base import json_column

if TYPE_CHECKING:
    from gateway.core import Gateway


def event_view(row: dict) -> dict:
    return {
        "seq": row["seq"], "type": row["type"], "provider": row["provider_id"],
        "occurred_at": row["occurred_at"], "resource_type": row["resource_type"],
        "resource_id": row["resource_id"], "data": json_column(row["data"]),
        "traceparent": row.get("traceparent"),
    }


async def events_after(gw: Gateway, after: int, limit: int = 100) -> dict:
    """Events in order after a seq; a consumer that keeps the last seq misses none."""
    limit = max(1, min(limit, 1000))
    async with gw.store.read() as conn:
        rows = await outbox.after(conn, after, limit)
    items = [event_view(row) for row in rows]
    return {"items": items, "next_cursor": str(items[-1]["seq"]) if items else str(after)}
