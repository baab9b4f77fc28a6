"""What serve's workers hold in memory for a few seconds (the providers' activity, the refused
credentials), flushed by every worker when a reader in any of them asks.

Each worker records activity and authentication failures in its own memory and writes them
in batches. A reader merges its own worker's unflushed counts, but not the others': without
this, the console's overview could say "Waiting for the first request" for seconds after an
IdP's test reached another worker. So a reader asks first: it raises a counter in a file
every worker maps (``serve`` makes it), and each worker, which looks at the counter every
POLL seconds, flushes and writes the number it answered into its own slot. The reader waits
until every worker has answered, at most WAIT seconds (a worker being replaced does not
answer; what it held is lost with it anyway). A request asks once, however many reads it
makes: what it reads after that is at least as fresh as the moment it asked.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING

import anyio

from gateway.store.base import StoreUnavailable

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.workers")

SLOTS = 256  # workers at most (settings: workers ≤ 256)
COUNTER = struct.Struct("=Q")
SIZE = COUNTER.size * (1 + SLOTS)  # what was asked, then what each worker answered
POLL = 0.02
WAIT = 0.5
# Set in a request's task once it has asked (each request runs in a task of its own, which
# starts from a copy of the server's context, where this is unset).
_asked: ContextVar[bool] = ContextVar("flush_calls_asked", default=False)

Flush = Callable[["Gateway"], Awaitable[None]]


class FlushCalls:
    """The file: the number of the last call, then the last number each worker answered."""

    def __init__(self, path: str, slot: int, workers: int) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            self.map = mmap.mmap(self.fd, SIZE)
        except BaseException:
            os.close(self.fd)
            raise
        self.slot, self.workers = slot, workers

    @staticmethod
    def create(path: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, SIZE)
        finally:
            os.close(fd)

    def _read(self, index: int) -> int:
        return COUNTER.unpack_from(self.map, index * COUNTER.size)[0]

    def call(self) -> int:
        """Ask every worker to flush; the number of this call."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            number = self._read(0) + 1
            COUNTER.pack_into(self.map, 0, number)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        return number

    def called(self) -> int:
        return self._read(0)

    def answer(self, number: int) -> None:
        COUNTER.pack_into(self.map, (1 + self.slot) * COUNTER.size, number)

    def answered(self, number: int) -> bool:
        return all(self._read(1 + slot) >= number for slot in range(self.workers))


async def gather(gw: Gateway) -> None:
    """Before reading activity or failure counts: have every worker flush what it holds
    (nothing to do without workers)."""
    calls = gw.flush_calls
    if calls is None or _asked.get():
        return
    _asked.set(True)
    number = calls.call()
    deadline = time.monotonic() + WAIT
    # The answers come from other processes: nothing here could set an event for them.
    while not calls.answered(number) and time.monotonic() < deadline:  # noqa: ASYNC110
        await anyio.sleep(0.01)


async def answer(gw: Gateway, flushes: Sequence[Flush]) -> None:
    """For the life of a worker: flush when another worker (or this one) asks."""
    calls = gw.flush_calls
    assert calls is not None
    answered = calls.called()
    calls.answer(answered)
    while True:
        await anyio.sleep(POLL)
        number = calls.called()
        if number == answered:
            continue
        for flush in flushes:
            try:
                await flush(gw)
            except StoreUnavailable:
                pass  # said once by the store's outage lines; kept for the next flush
            except Exception:
                log.exception("flushing for a reader failed; kept for the next flush")
        calls.answer(number)
        answered = number
