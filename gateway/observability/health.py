"""Liveness and readiness: /healthz says the process answers; /readyz says this replica
can do its work (the store answers and can take writes, its schema is current, its
background loops run).

Each background loop beats on every pass; a loop whose last beat is older than a few of its
intervals is stuck (a hung database call, a pass that never ends), and the replica is not
ready until it beats again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from gateway.store.base import Migration, StoreUnavailable

if TYPE_CHECKING:
    from gateway.core import Gateway

STORE_TIMEOUT = 2.0  # seconds the store has to answer a readiness probe
MISSED_BEATS = 3  # a loop is stuck once this many of its intervals pass without a beat
GRACE = 10.0  # seconds on top, for a pass that does real work


class Heartbeats:
    """The last beat of each background loop (monotonic seconds) and its interval."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.loops: dict[str, tuple[float, float]] = {}

    def beat(self, name: str, interval: float) -> None:
        self.loops[name] = (self.clock(), interval)

    def stop(self, name: str) -> None:
        self.loops.pop(name, None)

    def stale(self) -> list[str]:
        """What is wrong with the loops, one line each (empty when all are alive)."""
        now = self.clock()
        out = []
        for name, (last, interval) in sorted(self.loops.items()):
            allowed = interval * MISSED_BEATS + GRACE
            if now - last > allowed:
                out.append(f"the {name} loop has not run for {now - last:.0f}s "
                           f"(it runs every {interval:g}s)")
        return out


async def problems(gw: Gateway, wanted: list[Migration]) -> list[str]:
    """Why this replica is not ready, one line per reason (empty: ready)."""
    found: list[str] = []
    try:
        with anyio.fail_after(STORE_TIMEOUT):
            async with gw.store.read() as conn:
                await conn.fetchval("SELECT 1")
            pending = await gw.store.pending(wanted)
            problem = await gw.store.problem()
    except TimeoutError:
        return [f"the store did not answer within {STORE_TIMEOUT:g}s"]
    except StoreUnavailable as exc:
        return [f"the store is unavailable ({exc.why})"]
    except Exception as exc:  # any failure to reach the store is the reason itself
        return [f"the store is unreachable ({type(exc).__name__})"]
    if problem is not None:
        found.append(problem)
    if pending:
        names = ", ".join(f"{m.component} {m.version:04d}_{m.name}" for m in pending)
        found.append(f"the database has unapplied migrations: {names}")
    return found + gw.heartbeats.stale()
