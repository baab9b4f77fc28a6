"""The admin's view of users: canonical profile, state, source, and what plugins add."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.accounts import lifecycle
from gateway.profile import profile_of
from gateway.store import resources
from gateway.store.base import Conn, ResourceRow
from gateway.store.providers import get_provider
from gateway.store.resources import LOCAL

if TYPE_CHECKING:
    from gateway.core import Gateway


class UserColumn(msgspec.Struct, frozen=True):
    """A column a plugin adds to user lists (the `user_columns` hook): its header, and the
    short text it shows for a user's admin view ("" when there is nothing to show)."""

    header: str
    value: Callable[[dict], str]


async def owner(conn: Conn, row: ResourceRow) -> Any:
    """The provider that sent the user (its plugin may shape the profile), or None."""
    return await get_provider(conn, row.provider_id) if row.provider_id else None


async def view(gw: Gateway, conn: Conn, row: ResourceRow) -> dict:
    out: dict[str, Any] = {
        "id": row.id,
        "state": row.state,
        "deactivate_at": row.deactivate_at,
        # During the delay the account is still live (the delay exists to undo mistakes),
        # blocked unless the provider's block_during_delay is off.
        "can_sign_in": lifecycle.can_sign_in(row.state, row.block_reason),
        "blocked": lifecycle.is_blocked(row.state, row.block_reason),
        "block_reason": row.block_reason,
        "cold_storage": row.state == lifecycle.DEACTIVATED,
        "source": row.provider_id or "local",
        "provider_state": provider_state(row),
        "deleted_by_provider": row.hidden,
        "profile": await profile_of(gw, await owner(conn, row), row.data),
        "created": row.created,
        "last_modified": row.last_modified,
    }
    user = {"id": row.id, "provider_id": row.provider_id, "state": row.state,
            "data": row.data}
    for extra in await gw.hooks.call("user_view", user=user, conn=conn, gateway=gw):
        out.update(extra)
    return out


def provider_state(row: ResourceRow) -> str | None:
    """What the user's provider wants: "active", "inactive" or "deleted" (None: local)."""
    if not row.provider_id:
        return None
    if row.hidden:
        return "deleted"
    return "inactive" if row.data.get("active") is False else "active"


async def user_view(gw: Gateway, rid: str, conn: Conn | None = None) -> dict | None:
    if conn is None:
        async with gw.store.read() as conn:
            return await user_view(gw, rid, conn)
    row = await resources.get_any(conn, rid)
    if row is None or row.type != "User":
        return None
    return await view(gw, conn, row)


async def list_users(gw: Gateway, *, provider: str | None, state: str | None, q: str | None,
                     cursor: str | None, limit: int, blocked: bool | None = None) -> dict:
    """A page of admin views by id; `provider` is a provider id or "local"; `blocked`
    keeps the users who can (False) or cannot (True) sign in for a block."""
    limit = max(1, min(limit, 1000))
    owner_id = None if not provider else (LOCAL if provider == "local" else provider)
    async with gw.store.read() as conn:
        rows = await resources.user_page(conn, provider_id=owner_id, state=state, q=q,
                                         after=cursor, limit=limit + 1, blocked=blocked)
        found = rows[:limit]
        items = [await view(gw, conn, row) for row in found]
    more = len(rows) > limit
    return {"items": items, "next_cursor": found[-1].id if more and found else None}
