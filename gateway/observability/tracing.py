"""W3C Trace Context (https://www.w3.org/TR/trace-context/): the ``traceparent`` a request
came with, and the one the gateway passes on to what the request caused (events, webhook
deliveries).

The gateway takes part in the caller's trace as one span of its own: it keeps the trace id
and flags and puts its own span id in the parent-id field of what it sends on. A request
that came without a valid traceparent starts a trace, so every event a request causes can
be followed into the application that receives it.
"""

from __future__ import annotations

import os

HEX = frozenset("0123456789abcdef")
ZERO_TRACE, ZERO_SPAN = "0" * 32, "0" * 16


class Trace:
    """A request's place in a trace. The gateway's own span id is made when something
    asks for it (an event, a log line of a traced request), not on every request."""

    __slots__ = ("trace_id", "parent_id", "flags", "_span_id")

    def __init__(self, trace_id: str, parent_id: str | None, flags: str) -> None:
        self.trace_id = trace_id  # 32 lower-case hex digits
        self.parent_id = parent_id  # the caller's span, when it sent a traceparent
        self.flags = flags  # 2 hex digits; 01 = sampled
        self._span_id: str | None = None

    @property
    def span_id(self) -> str:
        if self._span_id is None:
            self._span_id = os.urandom(8).hex()
        return self._span_id

    @property
    def traceparent(self) -> str:
        """The header value for what this request causes: the gateway's span as parent."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def _hex(value: str, size: int) -> bool:
    return len(value) == size and HEX.issuperset(value)


def parse(header: str | None) -> tuple[str, str, str] | None:
    """(trace id, parent id, flags) of a valid traceparent header, else None.

    Version 00 must have exactly four fields; a later version may append fields, which are
    ignored (the spec's rule for forward compatibility). Upper-case hex, all-zero ids and
    version ff are invalid."""
    if not header or len(header) > 512:
        return None
    parts = header.strip().split("-")
    if len(parts) < 4:
        return None
    version, trace_id, parent_id, flags = parts[:4]
    if not _hex(version, 2) or version == "ff" or (version == "00" and len(parts) != 4):
        return None
    if not (_hex(trace_id, 32) and _hex(parent_id, 16) and _hex(flags, 2)):
        return None
    if trace_id == ZERO_TRACE or parent_id == ZERO_SPAN:
        return None
    return trace_id, parent_id, flags


def trace_for(header: str | None, new_id: str | None = None) -> Trace:
    """The request's place in a trace: the caller's, or a new one (with `new_id`, 32 random
    hex digits, as its trace id when given)."""
    given = parse(header) if header else None
    if given is None:
        return Trace(new_id or os.urandom(16).hex(), None, "00")
    return Trace(*given)
