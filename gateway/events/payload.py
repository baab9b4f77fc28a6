"""What an event says about a user or group: the canonical user (state and profile) or the
group's names, and which attributes changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.profile import profile_of
from gateway.store.base import ResourceRow

if TYPE_CHECKING:
    from gateway.core import Gateway


async def event_data(gw: Gateway, provider: Any, row: ResourceRow, before: dict | None,
                     extra: dict | None = None) -> dict:
    """What an event says: the canonical user or group and what changed."""
    changed = sorted(
        key for key in set(row.data) | set(before or {})
        if (before or {}).get(key) != row.data.get(key)
    )
    out: dict = {"id": row.id, "changed": changed}
    if row.type == "User":
        out["user"] = {"id": row.id, "state": row.state, "deactivate_at": row.deactivate_at,
                       "profile": await profile_of(gw, provider, row.data)}
    else:
        out["group"] = {"id": row.id, "displayName": row.data.get("displayName"),
                        "externalId": row.data.get("externalId")}
    if extra:
        out.update(extra)
    return out
