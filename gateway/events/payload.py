"""What an event says about a user or group: the canonical user (state and profile) or the
group's names, and which attributes changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.profile import profile_of
from gateway.scim.custom import extension_data
from gateway.states import is_blocked
from gateway.store.base import Conn, ResourceRow

if TYPE_CHECKING:
    from gateway.core import Gateway


async def event_data(gw: Gateway, provider: Any, row: ResourceRow, before: dict | None,
                     extra: dict | None = None, conn: Conn | None = None) -> dict:
    """What an event says: the canonical user or group and what changed.

    Custom attributes (the extensions the app's own schemas do not know, declared for the
    provider or kept as it sent them) come as ``custom_attributes``, by URN.

    The user is its state (with whether it is blocked, and why), its canonical profile and,
    given the change's ``conn``, the fields the ``user_view`` hooks add (the same as in the
    admin's view of the user)."""
    changed = sorted(
        key for key in set(row.data) | set(before or {})
        if (before or {}).get(key) != row.data.get(key)
    )
    out: dict = {"id": row.id, "changed": changed}
    extensions = extension_data(row.data, gw.registry.types[row.type])
    if row.type == "User":
        out["user"] = {"id": row.id, "state": row.state, "deactivate_at": row.deactivate_at,
                       "blocked": is_blocked(row.state, row.block_reason),
                       "block_reason": row.block_reason,
                       "profile": await profile_of(gw, provider, row.data)}
        if extensions:
            out["user"]["custom_attributes"] = extensions
        if conn is not None and gw.hooks.impls("user_view"):
            user = {"id": row.id, "provider_id": row.provider_id, "state": row.state,
                    "data": row.data}
            for fields in await gw.hooks.call("user_view", user=user, conn=conn, gateway=gw):
                out["user"].update({k: v for k, v in fields.items() if k not in out["user"]})
    else:
        out["group"] = {"id": row.id, "displayName": row.data.get("displayName"),
                        "externalId": row.data.get("externalId")}
        if extensions:
            out["group"]["custom_attributes"] = extensions
    if extra:
        out.update(extra)
    return out
