"""User states and their transitions; the scheduler for delayed deactivation.

States: active -> pending_deactivation (due at deactivate_at) -> deactivated; blocked.
A provider's deactivation (active=false, or DELETE) asks the lifecycle_decision hooks what it
means now; the core's answer is: deactivate after the provider's deactivation_delay. The
scheduler (gateway.accounts.scheduler) carries out the deactivations that come due.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.clock import format_time, parse_duration
from gateway.store import lifecycle as queries
from gateway.store.base import Conn, ResourceRow

if TYPE_CHECKING:
    from gateway.core import Gateway

ACTIVE = "active"
PENDING = "pending_deactivation"
DEACTIVATED = "deactivated"
BLOCKED = "blocked"
STATES = (ACTIVE, PENDING, DEACTIVATED, BLOCKED)
DEFAULT_DELAY = "15m"



class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """What a deactivation means now."""

    action: str  # "deactivate" (now), "schedule" (after delay), "block", "keep"
    delay: float = 0.0  # seconds, for "schedule"
    reason: str | None = None


def provider_delay(provider: Any) -> float:
    settings = getattr(provider, "settings", {}) or {}
    return parse_duration(settings.get("deactivation_delay", DEFAULT_DELAY))


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


def apply_deactivation(gw: Gateway, row: ResourceRow, decision: Decision) -> str:
    """Set the row's state for a decision; return the event type it means."""
    if decision.action == "schedule":
        row.state = PENDING
        row.deactivate_at = format_time(gw.clock.now() + timedelta(seconds=decision.delay))
        return "user.deactivation_scheduled"
    row.deactivate_at = None
    if decision.action == "block":
        row.state = BLOCKED
        return "user.blocked"
    if decision.action == "keep":
        if row.state == PENDING:  # kept live: a pending deactivation must not linger
            row.state = ACTIVE
            return "user.deactivation_cancelled"
        return "user.updated"
    row.state = DEACTIVATED
    return "user.deactivated"


async def schedule_row(conn: Conn, row: ResourceRow, reason: str | None) -> None:
    """Keep the scheduler's table in step with the row: a pending user's due time, or none."""
    due = row.deactivate_at if row.state == PENDING else None
    await queries.schedule(conn, row.id, row.provider_id, due, reason)


def reactivation(row: ResourceRow) -> str | None:
    """A provider set active=true: the event it means, after updating the row's state.

    A blocked user stays blocked: only the admin unblocks.
    """
    if row.state == PENDING:
        row.state, row.deactivate_at = ACTIVE, None
        return "user.deactivation_cancelled"
    if row.state == DEACTIVATED:
        row.state = ACTIVE
        return "user.reactivated"
    return None
