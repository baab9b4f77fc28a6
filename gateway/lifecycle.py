"""User states and their transitions; the scheduler for delayed deactivation.

States: active -> pending_deactivation (due at deactivate_at) -> deactivated; blocked.
A provider's deactivation (active=false, or DELETE) asks the lifecycle_decision hooks what it
means now; the core's answer is: deactivate after the provider's deactivation_delay.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import msgspec

from gateway.clock import format_time
from gateway.core import Gateway, RequestContext
from gateway.store.base import Conn, ResourceRow

ACTIVE = "active"
PENDING = "pending_deactivation"
DEACTIVATED = "deactivated"
BLOCKED = "blocked"
STATES = (ACTIVE, PENDING, DEACTIVATED, BLOCKED)
DEFAULT_DELAY = "15m"

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """What a deactivation means now."""

    action: str  # "deactivate" (now), "schedule" (after delay), "block", "keep"
    delay: float = 0.0  # seconds, for "schedule"
    reason: str | None = None


def parse_duration(text: str | int | float) -> float:
    """`15m`, `30s`, `0s`, `2h`, `1d` (or a number of seconds) -> seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a duration such as 15m, 30s, 2h or 0s")
    return float(int(match.group(1)) * _UNITS[match.group(2)])


def provider_delay(provider: Any) -> float:
    settings = getattr(provider, "settings", {}) or {}
    return parse_duration(settings.get("deactivation_delay", DEFAULT_DELAY))


async def decide(gw: Gateway, conn: Conn, provider: Any, user: dict, change: str) -> Decision:
    decision = await gw.hooks.first(
        "lifecycle_decision", provider=provider, user=user, change=change, conn=conn
    )
    if decision is not None:
        return decision
    if change == "due":
        return Decision(action="deactivate", reason="deactivation_delay")
    delay = provider_delay(provider)
    if delay <= 0:
        return Decision(action="deactivate", reason="provider_deactivation")
    return Decision(action="schedule", delay=delay, reason="deactivation_delay")


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
        return "user.updated"
    row.state = DEACTIVATED
    return "user.deactivated"


async def schedule_row(conn: Conn, row: ResourceRow, reason: str | None) -> None:
    await conn.execute("DELETE FROM lifecycle WHERE resource_id = ?", (row.id,))
    if row.state == PENDING and row.deactivate_at:
        await conn.execute(
            "INSERT INTO lifecycle (resource_id, provider_id, action, due_at, reason)"
            " VALUES (?, ?, 'deactivate', ?, ?)",
            (row.id, row.provider_id, row.deactivate_at, reason),
        )


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


async def run_due(gw: Gateway, limit: int = 100) -> int:
    """Run the deactivations that are due; return how many ran.

    Each is claimed and carried out in one transaction, so a crash leaves it pending and two
    schedulers never run the same one (the row is deleted by whoever runs it).
    """
    from gateway import provisioning

    now = gw.clock.stamp()
    done = 0
    async with gw.store.read() as conn:
        due = await conn.fetchall(
            "SELECT resource_id FROM lifecycle WHERE due_at <= ? ORDER BY due_at LIMIT ?",
            (now, limit),
        )
    for item in due:
        if await provisioning.run_scheduled(gw, item["resource_id"], now):
            done += 1
    return done


async def scheduler(gw: Gateway) -> None:
    """Background loop: run due deactivations every settings.scheduler_interval seconds."""
    import anyio

    while True:
        try:
            while await run_due(gw) > 0:
                pass
        except Exception:  # a failed run is retried on the next tick
            import logging

            logging.getLogger("identity_gateway.lifecycle").exception("scheduler run failed")
        await anyio.sleep(gw.settings.scheduler_interval)


def system_context(provider: Any) -> RequestContext:
    return RequestContext(provider=provider, actor="scheduler")
