"""The admin's actions on a user: block, unblock, deactivate (immediate), reactivate.

Plugins act through the same function (``Gateway.user_action``): the legal_hold plugin's
release deactivates a user its provider wants inactive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.accounts import lifecycle
from gateway.accounts.users import owner, provider_state, view
from gateway.context import RequestContext
from gateway.errors import Conflict
from gateway.events.payload import event_data
from gateway.events.record import committed, record
from gateway.store import resources
from gateway.store.base import Conn, ResourceRow
from gateway.store.providers import get_provider

if TYPE_CHECKING:
    from gateway.core import Gateway

ACTIONS = ("block", "unblock", "deactivate", "reactivate")


class ActionRefused(Conflict):
    """An admin action that would contradict the user's provider (answered 409)."""


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
    await committed(gw, [event] if event else [])
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
        event = await record(
            gw, conn, ctx, operation=action, event_type=event_type, resource_type="User",
            resource_id=rid, before={"state": old, "deactivate_at": old_at},
            after={"state": new}, reason=reason,
            data=await event_data(gw, await owner(conn, row), row, row.data,
                                  {"reason": reason}),
        )
    return await view(gw, conn, row), event
