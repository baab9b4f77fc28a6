"""Where console passwords are hashed and checked: at most ``console_password_checks`` at
once in a process, on threads of their own that run at a lower CPU priority.

Argon2 is costly by design: argon2-cffi's defaults take 64 MiB and four threads (one a lane)
for tens of milliseconds. On the shared worker threads a burst of sign-ins took a thread and
64 MiB each, gigabytes for a few hundred attempts, and the CPU the event loop needs to answer
SCIM. Bounded, a burst waits its turn (and gives up with Busy, a 429, past its wait); at a
lower priority, the checks get the CPU that the rest of the gateway leaves.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio

from gateway.errors import GatewayError

T = TypeVar("T")
NICE = 10  # niceness added to the checking threads; argon2's lane threads inherit it
MAX_NICE = 19


class Busy(GatewayError):
    """Every password check is taken and none came free in time."""

    status = 429


def lower_priority() -> None:
    """Run this thread (and the threads it starts) at a lower CPU priority. On Linux the
    niceness is per thread; elsewhere, or where it cannot be changed, nothing happens."""
    try:
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(current + NICE, MAX_NICE))
    except (AttributeError, OSError):  # the checks run at the usual priority then
        pass


class PasswordChecks:
    """The bound and the threads; one per Gateway."""

    def __init__(self, at_once: int) -> None:
        self.slots = anyio.CapacityLimiter(at_once)
        self.threads = ThreadPoolExecutor(at_once, thread_name_prefix="password-check",
                                          initializer=lower_priority)

    async def run(self, work: Callable[[], T], wait: float | None = None) -> T:
        """``work()`` on a checking thread as soon as one is free; Busy when none is within
        ``wait`` seconds (None: however long it takes)."""
        try:
            with anyio.fail_after(wait):
                await self.slots.acquire()
        except TimeoutError:
            seconds = max(1, round(wait or 1))
            raise Busy(f"The gateway is busy checking other sign-ins; try again in {seconds} "
                       "seconds", headers={"Retry-After": str(seconds)}) from None
        try:
            # A thread cannot be stopped: its slot stays taken until it is done.
            with anyio.CancelScope(shield=True):
                done = await asyncio.wrap_future(self.threads.submit(work))
            return done
        finally:
            self.slots.release()
