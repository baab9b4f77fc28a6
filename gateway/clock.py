"""Time, injectable: the app reads it from its Clock so tests can move it."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: sorts correctly as text in both stores."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat is several times cheaper than strftime, and this runs on every request.
    return moment.isoformat(timespec="microseconds")[:26] + "Z"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Clock:
    """The real clock. Tests use FakeClock (same interface)."""

    def __init__(self) -> None:
        self._second = -1  # the second whose text _prefix holds
        self._prefix = ""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def stamp(self) -> str:
        """format_time(now()), from the system clock directly: a write takes several stamps,
        and the text of the second they fall in is made once per second, not per stamp."""
        moment = time.time()
        second = int(moment)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            self._second = second
        return f"{self._prefix}{int((moment - second) * 1_000_000):06d}Z"


class FakeClock(Clock):
    def __init__(self, start: datetime | None = None) -> None:
        super().__init__()
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def stamp(self) -> str:
        return format_time(self.current)

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


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
