"""User states and their transitions; the scheduler for delayed deactivation.

States: active -> pending_deactivation (due at deactivate_at) -> deactivated; blocked;
deactivation_held (the mass-deactivation guard holds the provider's deactivation,
gateway.accounts.guard). A provider's deactivation (active=false, or DELETE) asks the
lifecycle_decision hooks what it means now; the core's answer is: deactivate after the
provider's deactivation_delay. The scheduler (gateway.accounts.scheduler) carries out the
deactivations that come due.

Beside the state, ``block_reason`` says why a live account cannot sign in. The state
``blocked`` (the admin's block, or a policy's when a deactivation comes due) freezes the
lifecycle: a provider's changes never move the user out of it. The blocks that go with a
provider's deactivation (``deactivation_pending`` during the delay, ``deactivation_held``
while the guard holds it) follow the provider instead: its reactivation lifts them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.clock import format_time, parse_duration
from gateway.errors import GatewayError
from gateway.states import ACTIVE as ACTIVE
from gateway.states import BLOCKED as BLOCKED
from gateway.states import DEACTIVATED as DEACTIVATED
from gateway.states import HELD as HELD
from gateway.states import PENDING as PENDING
from gateway.states import STATES as STATES
from gateway.states import can_sign_in as can_sign_in
from gateway.states import is_blocked as is_blocked
from gateway.store import lifecycle as queries
from gateway.store.base import Conn, ResourceRow

if TYPE_CHECKING:
    from gateway.core import Gateway

DEFAULT_DELAY = "15m"
ADMIN_BLOCK = "admin_block"
PENDING_BLOCK = "deactivation_pending"  # blocked during the deactivation delay
HELD_BLOCK = "deactivation_held"  # blocked while the guard holds the deactivation


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """What a deactivation means now."""

    action: str  # "deactivate" (now), "schedule" (after delay), "block", "keep"; the
    # guard's "hold" is never a plugin's answer
    delay: float = 0.0  # seconds, for "schedule"
    reason: str | None = None


HOLD = Decision(action="hold", reason=HELD_BLOCK)
PLUGIN_ACTIONS = ("deactivate", "schedule", "block", "keep")


def provider_delay(provider: Any) -> float:
    settings = getattr(provider, "settings", {}) or {}
    return parse_duration(settings.get("deactivation_delay", DEFAULT_DELAY))


def blocks_during_delay(provider: Any) -> bool:
    """The provider's `block_during_delay` setting (default true)."""
    settings = getattr(provider, "settings", {}) or {}
    return settings.get("block_during_delay", True) is not False


def deactivates(decision: Decision) -> bool:
    """The decision takes the user out of use, now or after the delay (the guard's concern)."""
    return decision.action in ("deactivate", "schedule")


def hook_user(row: ResourceRow, data: dict | None = None) -> dict:
    """The user as the lifecycle_decision hooks see it: its SCIM JSON with its id."""
    return {**(row.data if data is None else data), "id": row.id}


def wants_inactive(row: ResourceRow) -> bool:
    """The user's provider has deactivated (active=false) or deleted it."""
    return bool(row.provider_id) and (row.data.get("active") is False or row.hidden)


async def decide(gw: Gateway, conn: Conn, provider: Any, user: dict, change: str) -> Decision:
    """What a deactivation means now: the first plugin's answer, else the core's.

    A provider's deactivation with a delay of 0 takes effect at once, so the hooks are asked
    again as for a deactivation that comes due: "due" is every plugin's last word.
    """
    decision = await gw.hooks.call(
        "lifecycle_decision", provider=provider, user=user, change=change, conn=conn,
        gateway=gw,
    )
    if decision is not None:
        if decision.action not in PLUGIN_ACTIONS:  # "hold" belongs to the guard alone
            raise GatewayError(f"a lifecycle_decision plugin answered the action "
                               f"{decision.action!r} (the actions are "
                               f"{', '.join(PLUGIN_ACTIONS)}); the change was not applied", 500)
        return decision
    if change in ("deactivate", "delete"):
        delay = provider_delay(provider)
        if delay > 0:
            return Decision(action="schedule", delay=delay, reason="deactivation_delay")
        due = await gw.hooks.call(
            "lifecycle_decision", provider=provider, user=user, change="due", conn=conn,
            gateway=gw,
        )
        return due or Decision(action="deactivate", reason="provider_deactivation")
    return Decision(action="deactivate", reason="deactivation_delay_elapsed")


def apply_deactivation(gw: Gateway, row: ResourceRow, decision: Decision,
                       block: bool = False) -> str:
    """Set the row's state for a decision; return the event type it means. `block`: the
    user is blocked during the delay of a scheduled deactivation."""
    if decision.action == "schedule":
        row.state = PENDING
        row.deactivate_at = format_time(gw.clock.now() + timedelta(seconds=decision.delay))
        row.block_reason = PENDING_BLOCK if block else None
        return "user.deactivation_scheduled"
    row.deactivate_at = None
    if decision.action == "hold":
        row.state, row.block_reason = HELD, HELD_BLOCK
        return "user.blocked"
    if decision.action == "block":
        row.state, row.block_reason = BLOCKED, decision.reason or ADMIN_BLOCK
        return "user.blocked"
    if decision.action == "keep":
        if row.state in (PENDING, HELD):  # kept live: a deactivation must not linger
            row.state, row.block_reason = ACTIVE, None
            return "user.deactivation_cancelled"
        return "user.updated"
    row.state, row.block_reason = DEACTIVATED, None
    return "user.deactivated"


def block_change(before: tuple[str, str | None], row: ResourceRow, primary: str,
                 cause: str | None) -> tuple[str, str | None] | None:
    """The user.blocked / user.unblocked event (type, reason) a transition implies beside its
    own event `primary`: a user who could sign in and now is blocked, or the reverse.
    A deactivation is not an unblock: the account leaves use altogether."""
    if primary in ("user.blocked", "user.unblocked"):
        return None
    if can_sign_in(*before) and is_blocked(row.state, row.block_reason):
        return "user.blocked", row.block_reason
    if is_blocked(*before) and can_sign_in(row.state, row.block_reason):
        return "user.unblocked", cause
    return None


def marks(row: ResourceRow) -> dict:
    """The lifecycle fields of a sync-log entry's before / after: the state, the due time,
    and the block reason when there is one."""
    out: dict = {"state": row.state, "deactivate_at": row.deactivate_at}
    if row.block_reason is not None:
        out["block_reason"] = row.block_reason
    return out


async def schedule_row(conn: Conn, row: ResourceRow, reason: str | None) -> None:
    """Keep the scheduler's table in step with the row: a pending user's due time, or none."""
    due = row.deactivate_at if row.state == PENDING else None
    await queries.schedule(conn, row.id, row.provider_id, due, reason)


def reactivation(row: ResourceRow) -> str | None:
    """A provider set active=true (or POSTed its deleted user again): the event it means,
    after updating the row's state. The block of the delay or of the guard goes with the
    deactivation (the caller drops a held one from the guard's set).

    A blocked user stays blocked: only the admin unblocks.
    """
    if row.state == PENDING:
        row.state, row.deactivate_at, row.block_reason = ACTIVE, None, None
        return "user.deactivation_cancelled"
    if row.state == HELD:
        row.state, row.block_reason = ACTIVE, None
        return "user.unblocked"
    if row.state == DEACTIVATED:
        row.state = ACTIVE
        return "user.reactivated"
    return None
