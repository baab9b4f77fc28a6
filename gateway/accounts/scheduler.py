"""The scheduler: carries out delayed deactivations when they come due, each claimed and
applied in one transaction, once, whichever replica gets there first."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from gateway.accounts.lifecycle import (
    PENDING,
    apply_deactivation,
    block_change,
    decide,
    hook_user,
    marks,
    schedule_row,
)
from gateway.context import RequestContext
from gateway.events.payload import event_data
from gateway.events.synclog_write import committed, emit, record
from gateway.store import resources
from gateway.store.base import StoreUnavailable
from gateway.store.lifecycle import claim_next
from gateway.store.providers import get_provider

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.lifecycle")


async def run_due(gw: Gateway, limit: int = 100) -> int:
    """Run up to `limit` deactivations that are due; return how many ran.

    Each is claimed and carried out in its own transaction: a crash leaves it pending, and
    two schedulers never run the same one (see claim_next).
    """
    done = 0
    while done < limit and await run_next(gw):
        done += 1
    return done


async def run_next(gw: Gateway) -> bool:
    """Claim one due deactivation and carry it out, with its sync-log entry and event, in
    one transaction. False when nothing is due."""
    events = []
    async with gw.store.write() as conn:
        rid = await claim_next(conn, gw.clock.stamp())
        if rid is None:
            return False
        row = await resources.get_any(conn, rid, lock=True)
        if row is None or row.state != PENDING:
            return True  # cancelled or changed meanwhile: the claim just clears the row
        provider = await get_provider(conn, row.provider_id)
        decision = await decide(gw, conn, provider, hook_user(row), "due")
        before, status = marks(row), (row.state, row.block_reason)
        event_type = apply_deactivation(gw, row, decision)
        row.version += 1
        row.last_modified = gw.clock.stamp()
        await resources.update(conn, row, row.version - 1)
        await schedule_row(conn, row, decision.reason)
        ctx = system_context(provider)
        events.append(await record(
            gw, conn, ctx, operation="lifecycle", event_type=event_type,
            resource_type="User", resource_id=rid, before=before, after=marks(row),
            reason=decision.reason,
            data=await event_data(gw, provider, row, row.data, {"reason": decision.reason},
                                  conn=conn),
        ))
        also = block_change(status, row, event_type, decision.reason)
        if also:  # kept live by a policy: the block of the delay goes too
            events.append(await emit(
                gw, conn, ctx, also[0], resource_type="User", resource_id=rid,
                data=await event_data(gw, provider, row, row.data, {"reason": also[1]},
                                      conn=conn)))
    await committed(gw, events)
    return True


async def scheduler(gw: Gateway, rounds: int | None = None) -> None:
    """Background loop: run due deactivations every settings.scheduler_interval seconds.

    `rounds` bounds the loop (tests); the app runs it until shutdown.
    """
    done = 0
    interval = gw.settings.scheduler_interval
    try:
        while rounds is None or done < rounds:
            done += 1
            ran = 0
            try:
                for _ in range(100):  # at most 10,000 per tick; the rest wait for the next one
                    gw.heartbeats.beat("scheduler", interval)
                    count = await run_due(gw)
                    ran += count
                    if count < 100:
                        break
            except StoreUnavailable:
                pass  # said once by the store's outage lines
            except Exception:  # a failed run is retried on the next tick
                log.exception("scheduler run failed after %d deactivations", ran,
                              extra={"ran": ran, "outcome": "failed"})
            else:
                if ran:
                    log.info("scheduler ran %d due deactivations", ran,
                             extra={"ran": ran, "outcome": "done"})
            await anyio.sleep(interval)
    finally:
        gw.heartbeats.stop("scheduler")


def system_context(provider: Any) -> RequestContext:
    return RequestContext(provider=provider, actor="scheduler")
