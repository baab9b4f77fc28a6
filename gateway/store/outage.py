"""A store that cannot be reached or cannot write: how it is told to the operator.

Each request refused during an outage would otherwise log a traceback of its own (a minute
of PostgreSQL down, or of a full disk, is thousands of them). Instead the store logs one
warning when the outage starts, with the reason; while it lasts, at most one line every
REPORT_EVERY seconds with the count of requests refused since the line before; and one line
when it is over. An outage that starts again soon after one ended (a store that works for
some writes and not others) is not announced again: its refusals are counted in the next
line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("identity_gateway.store")
REPORT_EVERY = 60.0  # seconds between two lines about one outage


class Outage:
    """Whether the store works, and if not since when and why."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.reason: str | None = None  # for the log: names the database; None while it works
        self.why = ""  # the cause alone, for a client (no host or path)
        self.since = 0.0
        self.refused = 0  # requests answered 503 since the last line
        self.announced = False  # this outage's first line was written
        self.last_line = -REPORT_EVERY

    @property
    def down(self) -> bool:
        return self.reason is not None

    def failed(self, reason: str, why: str) -> None:
        """An operation failed because the store is unavailable."""
        now = self.clock()
        self.why = why
        if self.reason is None:
            self.reason, self.since = reason, now
            self.announced = now - self.last_line >= REPORT_EVERY
            if self.announced:
                self._line(now, "store unavailable: %s; requests are answered 503 until it "
                                "recovers", reason)
            return
        self.reason = reason
        self._still(now)

    def refusal(self) -> None:
        """A request was answered 503 during the outage."""
        self.refused += 1
        self._still(self.clock())

    def recovered(self) -> None:
        """An operation succeeded: the outage, if there was one, is over."""
        if self.reason is None:
            return
        now = self.clock()
        if self.announced:
            self._line(now, "store available again after %ds; %d requests refused",
                       round(now - self.since), self.refused)
        self.reason = None

    def _still(self, now: float) -> None:
        if now - self.last_line >= REPORT_EVERY:
            self._line(now, "store still unavailable after %ds: %d requests refused in the "
                            "last %ds (%s)", round(now - self.since), self.refused,
                       round(now - self.last_line), self.reason)
            self.announced = True

    def _line(self, now: float, message: str, *args: object) -> None:
        log.warning(message, *args, extra={"reason": self.reason, "refused": self.refused,
                                           "outage_seconds": round(now - self.since)})
        self.refused, self.last_line = 0, now
