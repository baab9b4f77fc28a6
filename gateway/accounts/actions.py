"""The admin's actions on a user: block, unblock, deactivate (immediate), reactivate.

Plugins act through the same function (``Gateway.user_action``): the legal_hold plugin's
release deactivates a user its provider wants inactive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.accounts import guard, lifecycle
from gateway.accounts.users import owner, provider_state, view
from gateway.context import RequestContext
from gateway.errors import Conflict
from gateway.events.payload import event_data
from gateway.events.synclog_write import committed, record
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
                       action: str) -> tuple[str, str | None, str | None]:
    """The state and block reason an admin action leads to, and the reason when a plugin
    chose them.

    Whatever would leave the user deactivated is asked of the lifecycle_decision hooks as a
    deactivation that is due now (so a legal hold turns it into a block). Unblocking a user
    during its deactivation delay lifts the delay's block and leaves the deactivation due.
    """
    unchanged = (row.state, row.block_reason, None)
    if action == "block":
        return unchanged if row.state == lifecycle.BLOCKED else \
            (lifecycle.BLOCKED, lifecycle.ADMIN_BLOCK, None)
    if action == "unblock" and row.state == lifecycle.HELD:
        raise ActionRefused(
            f"user {row.id}'s deactivation is held by its provider's deactivation guard; "
            f"release or discard the guard's hold (POST /admin/v1/providers/{row.provider_id}"
            "/deactivation-guard/release or /discard)")
    if action == "unblock" and row.state == lifecycle.PENDING:
        return lifecycle.PENDING, None, None
    if (action == "unblock" and row.state != lifecycle.BLOCKED) or \
            (action == "deactivate" and row.state == lifecycle.DEACTIVATED):
        return unchanged  # nothing to do
    if action == "reactivate":
        if lifecycle.wants_inactive(row):
            raise ActionRefused(
                f"user {row.id}'s provider has it {provider_state(row)}; reactivate it in the "
                "identity provider (the gateway does not revive accounts the IdP has removed)")
        return lifecycle.ACTIVE, None, None
    if action == "unblock" and not lifecycle.wants_inactive(row):
        return lifecycle.ACTIVE, None, None
    provider = await get_provider(conn, row.provider_id) if row.provider_id else None
    decision = await lifecycle.decide(gw, conn, provider, lifecycle.hook_user(row), "due")
    if decision.action == "block":
        if row.state == lifecycle.BLOCKED:  # blocked it stays, for the reason it has
            return (*unchanged[:2], decision.reason)
        return lifecycle.BLOCKED, decision.reason or lifecycle.ADMIN_BLOCK, decision.reason
    if decision.action in ("keep", "schedule"):  # a plugin may only soften an admin action
        return (*unchanged[:2], decision.reason)
    return lifecycle.DEACTIVATED, None, None


def event_type(old: str, new: str) -> str:
    if new == lifecycle.BLOCKED:
        return "user.blocked"
    if new == lifecycle.DEACTIVATED:
        return "user.deactivated"
    return "user.reactivated" if old == lifecycle.DEACTIVATED else "user.unblocked"


async def transition(gw: Gateway, conn: Conn, rid: str, action: str, actor: str,
                     reason: str | None) -> tuple[dict | None, dict | None]:
    row = await resources.get_any(conn, rid, lock=True)
    if row is None or row.type != "User":
        return None, None
    old, before = row.state, lifecycle.marks(row)
    new, block, why = await target_state(gw, conn, row, action)
    event = None
    if (new, block) != (old, row.block_reason):
        await guard.drop(conn, row)  # an admin's own action ends a held deactivation
        row.state, row.block_reason = new, block
        if new != lifecycle.PENDING:  # a pending user unblocked stays due when it was
            row.deactivate_at = None
            await lifecycle.schedule_row(conn, row, None)
        row.version += 1
        row.last_modified = gw.clock.stamp()
        await resources.update(conn, row, row.version - 1)
        ctx = RequestContext(provider=None, actor=actor, provider_id=row.provider_id or None)
        reason = why or reason or f"admin_{action}"
        event = await record(
            gw, conn, ctx, operation=action, event_type=event_type(old, new),
            resource_type="User", resource_id=rid, before=before,
            after=lifecycle.marks(row), reason=reason,
            data=await event_data(gw, await owner(conn, row), row, row.data,
                                  {"reason": reason}, conn=conn),
        )
    return await view(gw, conn, row), event
