"""The admin's view of users: canonical profile, state, source; local users; admin actions."""

from __future__ import annotations

from typing import Any

from gateway import events, lifecycle, provisioning
from gateway.core import Gateway, RequestContext
from gateway.scim.schema import USER_TYPE
from gateway.store import resources
from gateway.store.base import Conn, ResourceRow
from gateway.store.providers import get_provider
from gateway.store.resources import LOCAL

ACTIONS = ("block", "unblock", "deactivate", "reactivate")
ADMIN_CONTEXT = RequestContext(provider=None, actor="admin")


async def owner(conn: Conn, row: ResourceRow) -> Any:
    """The provider that sent the user (its plugin may shape the profile), or None."""
    return await get_provider(conn, row.provider_id) if row.provider_id else None


async def view(gw: Gateway, conn: Conn, row: ResourceRow) -> dict:
    out: dict[str, Any] = {
        "id": row.id,
        "state": row.state,
        "deactivate_at": row.deactivate_at,
        "can_sign_in": row.state == lifecycle.ACTIVE,
        "source": row.provider_id or "local",
        "deleted_by_provider": row.hidden,
        "profile": await provisioning.profile_of(gw, await owner(conn, row), row.data),
        "organization": None,
        "roles": [],
        "legal_hold": None,
        "created": row.created,
        "last_modified": row.last_modified,
    }
    user = {"id": row.id, "provider_id": row.provider_id, "state": row.state,
            "data": row.data}
    for extra in await gw.hooks.all("user_view", user=user, conn=conn):
        out.update(extra)
    return out


async def user_view(gw: Gateway, rid: str) -> dict | None:
    async with gw.store.read() as conn:
        row = await resources.get_any(conn, rid)
        if row is None or row.type != "User":
            return None
        return await view(gw, conn, row)


async def list_users(gw: Gateway, *, provider: str | None, state: str | None, q: str | None,
                     cursor: str | None, limit: int) -> dict:
    where, args = ["type = 'User'"], []
    if provider:
        where.append("provider_id = ?")
        args.append("" if provider == "local" else provider)
    if state:
        where.append("state = ?")
        args.append(state)
    if q:
        where.append("(name_key LIKE ? ESCAPE '\\' OR display_key LIKE ? ESCAPE '\\')")
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args += [pattern, pattern]
    if cursor:
        where.append("id > ?")
        args.append(cursor)
    limit = max(1, min(limit, 1000))
    async with gw.store.read() as conn:
        rows = await conn.fetchall(
            "SELECT * FROM resources WHERE " + " AND ".join(where) + " ORDER BY id LIMIT ?",
            [*args, limit + 1],
        )
        found = [resources.to_row(row) for row in rows[:limit]]
        items = [await view(gw, conn, row) for row in found]
    more = len(rows) > limit
    return {"items": items, "next_cursor": found[-1].id if more and found else None}


async def create_local(gw: Gateway, body: dict) -> dict:
    """A local user: owned by no provider, so no provider can read or change it."""
    created = await provisioning.create(gw, ADMIN_CONTEXT, USER_TYPE, body)
    found = await user_view(gw, created["id"])
    assert found is not None
    return found


async def admin_action(gw: Gateway, rid: str, action: str, actor: str = "admin",
                       reason: str | None = None) -> dict | None:
    """block / unblock / deactivate (immediate) / reactivate, as the admin (or a plugin)."""
    async with gw.store.write() as conn:
        row = await resources.get_any(conn, rid, lock=True)
        if row is None or row.type != "User":
            return None
        old = row.state
        wants_inactive = row.data.get("active") is False or row.hidden
        new = {
            "block": lifecycle.BLOCKED,
            "unblock": lifecycle.DEACTIVATED if wants_inactive else lifecycle.ACTIVE,
            "deactivate": lifecycle.DEACTIVATED,
            "reactivate": lifecycle.ACTIVE,
        }[action]
        if action == "unblock" and old != lifecycle.BLOCKED:
            new = old
        if new != old:
            row.state, row.deactivate_at = new, None
            row.version += 1
            row.last_modified = gw.clock.stamp()
            await resources.update(conn, row, row.version - 1)
            await lifecycle.schedule_row(conn, row, None)
            event_type = {
                lifecycle.BLOCKED: "user.blocked",
                lifecycle.DEACTIVATED: "user.deactivated",
                lifecycle.ACTIVE: "user.unblocked" if old == lifecycle.BLOCKED
                else "user.reactivated",
            }[new]
            ctx = RequestContext(provider=None, actor=actor,
                                 provider_id=row.provider_id or None)
            reason = reason or f"admin_{action}"
            written = await events.record(
                gw, conn, ctx, operation=action, event_type=event_type, resource_type="User",
                resource_id=rid, before={"state": old}, after={"state": new}, reason=reason,
                data=await provisioning.event_data(gw, await owner(conn, row), row, row.data,
                                                   {"reason": reason}),
            )
        result = await view(gw, conn, row)
    if new != old:
        await gw.hooks.all("after_commit", events=[written])
    return result
