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
        # During the delay the account is still live: the delay exists to undo mistakes.
        "can_sign_in": row.state in (lifecycle.ACTIVE, lifecycle.PENDING),
        "cold_storage": row.state == lifecycle.DEACTIVATED,
        "source": row.provider_id or "local",
        "provider_state": provider_state(row),
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


class ActionRefused(Exception):
    """An admin action that would contradict the user's provider (answered 409)."""

    status = 409


async def admin_action(gw: Gateway, rid: str, action: str, actor: str = "admin",
                       reason: str | None = None, conn: Conn | None = None) -> dict | None:
    """block / unblock / deactivate (immediate) / reactivate, as the admin (or a plugin).

    With `conn` it runs in the caller's transaction (whose commit the caller owns);
    otherwise in its own, followed by the after_commit hooks.
    """
    if conn is not None:
        return (await transition(gw, conn, rid, action, actor, reason))[0]
    async with gw.store.write() as conn:
        result, event = await transition(gw, conn, rid, action, actor, reason)
    if event is not None:
        await gw.hooks.all("after_commit", events=[event])
    return result


async def target_state(gw: Gateway, conn: Conn, row: ResourceRow,
                       action: str) -> tuple[str, str | None]:
    """The state an admin action leads to, and the reason when a plugin chose it.

    Whatever would leave the user deactivated is asked of the lifecycle_decision hooks as a
    deactivation that is due now (so a legal hold turns it into a block).
    """
    if action == "block":
        return lifecycle.BLOCKED, None
    if (action == "unblock" and row.state != lifecycle.BLOCKED) or \
            (action == "deactivate" and row.state == lifecycle.DEACTIVATED):
        return row.state, None  # nothing to do
    if action == "reactivate":
        if lifecycle.wants_inactive(row):
            raise ActionRefused(
                f"user {row.id}'s provider has it {provider_state(row)}; reactivate it in the "
                "identity provider (the gateway does not revive accounts the IdP has removed)")
        return lifecycle.ACTIVE, None
    if action == "unblock" and not lifecycle.wants_inactive(row):
        return lifecycle.ACTIVE, None
    provider = await get_provider(conn, row.provider_id) if row.provider_id else None
    decision = await lifecycle.decide(gw, conn, provider, lifecycle.hook_user(row), "due")
    if decision.action == "block":
        return lifecycle.BLOCKED, decision.reason
    if decision.action in ("keep", "schedule"):  # a plugin may only soften an admin action
        return row.state, decision.reason
    return lifecycle.DEACTIVATED, None


EVENT_TYPES = {lifecycle.BLOCKED: "user.blocked", lifecycle.DEACTIVATED: "user.deactivated"}


async def transition(gw: Gateway, conn: Conn, rid: str, action: str, actor: str,
                     reason: str | None) -> tuple[dict | None, dict | None]:
    row = await resources.get_any(conn, rid, lock=True)
    if row is None or row.type != "User":
        return None, None
    old, old_at = row.state, row.deactivate_at
    new, why = await target_state(gw, conn, row, action)
    event = None
    if new != old:
        row.state, row.deactivate_at = new, None
        row.version += 1
        row.last_modified = gw.clock.stamp()
        await resources.update(conn, row, row.version - 1)
        await lifecycle.schedule_row(conn, row, None)
        event_type = EVENT_TYPES.get(new) or (
            "user.unblocked" if old == lifecycle.BLOCKED else "user.reactivated")
        ctx = RequestContext(provider=None, actor=actor, provider_id=row.provider_id or None)
        reason = why or reason or f"admin_{action}"
        event = await events.record(
            gw, conn, ctx, operation=action, event_type=event_type, resource_type="User",
            resource_id=rid, before={"state": old, "deactivate_at": old_at},
            after={"state": new}, reason=reason,
            data=await provisioning.event_data(gw, await owner(conn, row), row, row.data,
                                               {"reason": reason}),
        )
    return await view(gw, conn, row), event
