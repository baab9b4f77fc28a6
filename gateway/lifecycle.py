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
from gateway.store import resources
from gateway.store.base import Conn, ResourceRow
from gateway.store.providers import get_provider

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
    decision = await gw.hooks.first(
        "lifecycle_decision", provider=provider, user=user, change=change, conn=conn
    )
    if decision is not None:
        return decision
    if change in ("deactivate", "delete"):
        delay = provider_delay(provider)
        if delay > 0:
            return Decision(action="schedule", delay=delay, reason="deactivation_delay")
        due = await gw.hooks.first(
            "lifecycle_decision", provider=provider, user=user, change="due", conn=conn
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
    """Run up to `limit` deactivations that are due; return how many ran.

    Each is claimed and carried out in its own transaction: a crash leaves it pending, and
    two schedulers never run the same one (see claim_next).
    """
    done = 0
    while done < limit and await run_next(gw):
        done += 1
    return done


async def claim_next(conn: Conn, now: str) -> str | None:
    """Take the oldest due action out of the table, inside the caller's transaction.

    The row is deleted by whoever runs it, so it runs once. PostgreSQL skips rows that
    another scheduler holds (FOR UPDATE SKIP LOCKED); SQLite has one writer at a time.
    """
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgres" else ""
    item = await conn.fetchone(
        "SELECT resource_id FROM lifecycle WHERE due_at <= ? ORDER BY due_at, resource_id"
        " LIMIT 1" + lock, (now,))
    if item is None:
        return None
    await conn.execute("DELETE FROM lifecycle WHERE resource_id = ?", (item["resource_id"],))
    return item["resource_id"]


async def run_next(gw: Gateway) -> bool:
    """Claim one due deactivation and carry it out, with its sync-log entry and event, in
    one transaction. False when nothing is due."""
    from gateway import events, provisioning  # they import this module

    event = None
    async with gw.store.write() as conn:
        rid = await claim_next(conn, gw.clock.stamp())
        if rid is None:
            return False
        row = await resources.get_any(conn, rid, lock=True)
        if row is None or row.state != PENDING:
            return True  # cancelled or changed meanwhile: the claim just clears the row
        provider = await get_provider(conn, row.provider_id)
        decision = await decide(gw, conn, provider, hook_user(row), "due")
        old_state, old_at = row.state, row.deactivate_at
        event_type = apply_deactivation(gw, row, decision)
        row.version += 1
        row.last_modified = gw.clock.stamp()
        await resources.update(conn, row, row.version - 1)
        await schedule_row(conn, row, decision.reason)
        event = await events.record(
            gw, conn, system_context(provider), operation="lifecycle", event_type=event_type,
            resource_type="User", resource_id=rid,
            before={"state": old_state, "deactivate_at": old_at},
            after={"state": row.state, "deactivate_at": row.deactivate_at},
            reason=decision.reason,
            data=await provisioning.event_data(gw, provider, row, row.data,
                                               {"reason": decision.reason}),
        )
    await gw.hooks.all("after_commit", events=[event])
    return True


async def scheduler(gw: Gateway, rounds: int | None = None) -> None:
    """Background loop: run due deactivations every settings.scheduler_interval seconds.

    `rounds` bounds the loop (tests); the app runs it until shutdown.
    """
    import anyio

    done = 0
    while rounds is None or done < rounds:
        done += 1
        try:
            for _ in range(100):  # at most 10,000 per tick; the rest wait for the next one
                if await run_due(gw) < 100:
                    break
        except Exception:  # a failed run is retried on the next tick
            import logging

            logging.getLogger("identity_gateway.lifecycle").exception("scheduler run failed")
        await anyio.sleep(gw.settings.scheduler_interval)


def system_context(provider: Any) -> RequestContext:
    return RequestContext(provider=provider, actor="scheduler")
