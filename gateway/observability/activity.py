"""Per-provider activity: requests and errors per minute, and each provider's last request,
last success and last error, for the admin's provider views and the console.

Recording is in memory (the middleware calls ``ActivityBuffer.record`` once per SCIM
request); a background loop flushes what gathered every few seconds in one small
transaction. A request to an id that names no provider is recorded under ``UNNAMED`` and
dropped at the flush: it is recorded at all so that refusing it costs what refusing a wrong
credential of an existing provider does, and its timing does not tell which ids exist.
Counts from several replicas add up in the database, and the last-* fields keep the newest.
Minute counts are kept for a day (``RETENTION``), then pruned. What counts as an error is
``middleware.is_error``: any 5xx, and any 4xx but a 404 on a read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio

from gateway.clock import format_time
from gateway.observability.flush_calls import gather
from gateway.store import activity as queries
from gateway.store.base import Conn, StoreUnavailable

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.activity")

RETENTION = timedelta(hours=24)
MAX_MINUTES = 1440
PRUNE_EVERY = 60.0  # seconds of the gateway's clock between two prunes
KEPT_PARAMS = ("filter", "attributes", "excludedattributes", "startindex", "count", "sortby",
               "sortorder")
LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')
SHOWN_CHARS = 3  # of each quoted value in an excerpt
MAX_EXCERPT, MAX_DETAIL = 200, 300
UNNAMED = "-"  # the stand-in provider id of requests to ids that name no provider


class Last:
    """One provider's last request, success and error, as this process saw them."""

    __slots__ = ("request_at", "method", "route", "path", "query", "status", "success_at",
                 "error_at", "error_status", "error_detail")

    def __init__(self) -> None:
        self.request_at: datetime | None = None
        self.method = self.route = self.path = ""
        self.query = b""
        self.status = 0
        self.success_at: datetime | None = None
        self.error_at: datetime | None = None
        self.error_status: int | None = None
        self.error_detail: str | None = None

    def row(self, provider_id: str) -> tuple:
        return (provider_id, stamp(self.request_at), self.method, self.route,
                excerpt(self.method, self.path, self.query), self.status,
                stamp(self.success_at), stamp(self.error_at), self.error_status,
                self.error_detail)


Minutes = dict[tuple[str, datetime], list[int]]


class ActivityBuffer:
    """What this process recorded since its last flush."""

    def __init__(self) -> None:
        self.minutes: Minutes = {}
        self.last: dict[str, Last] = {}
        self.known: set[str] = set()  # existing provider ids, refreshed by every flush
        self.flushing: tuple[Minutes, dict[str, Last]] | None = None
        self.pruned_at: datetime | None = None

    def record(self, now: datetime, provider_id: str, method: str, route: str, scope: Any,
               status: int, error: bool, detail: str | None) -> None:
        key = (provider_id, now.replace(second=0, microsecond=0))
        counts = self.minutes.get(key)
        if counts is None:
            counts = self.minutes[key] = [0, 0]
        counts[0] += 1
        last = self.last.get(provider_id)
        if last is None:
            last = self.last[provider_id] = Last()
        last.request_at, last.method, last.route, last.status = now, method, route, status
        last.path, last.query = scope["path"], scope.get("query_string", b"")
        if error:
            counts[1] += 1
            last.error_at, last.error_status = now, status
            last.error_detail = (detail or f"HTTP {status}")[:MAX_DETAIL]
        elif status < 400:
            last.success_at = now

    def take(self) -> tuple[Minutes, dict[str, Last]]:
        minutes, last = self.minutes, self.last
        self.minutes, self.last = {}, {}
        last.pop(UNNAMED, None)
        for key in [key for key in minutes if key[0] == UNNAMED]:
            del minutes[key]
        taken = self.flushing = (minutes, last)
        return taken

    def give_back(self, minutes: Minutes, last: dict[str, Last]) -> None:
        """A flush that failed: its counts join what gathered meanwhile (newer last-*
        entries win)."""
        for key, (requests, errors) in minutes.items():
            counts = self.minutes.setdefault(key, [0, 0])
            counts[0] += requests
            counts[1] += errors
        for pid, entry in last.items():
            current = self.last.setdefault(pid, entry)
            if current.success_at is None:
                current.success_at = entry.success_at
            if current.error_at is None:
                current.error_at, current.error_status = entry.error_at, entry.error_status
                current.error_detail = entry.error_detail

    def pending(self) -> list[tuple[Minutes, dict[str, Last]]]:
        """What is not in the database yet: the current buffer and any flush under way."""
        found = [(self.minutes, self.last)]
        if self.flushing is not None:
            found.append(self.flushing)
        return found


def stamp(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def minute_stamp(moment: datetime) -> str:
    return format_time(moment)[:17] + "00Z"  # 2026-01-01T09:30:00Z


def shorten(match: re.Match) -> str:
    value = match.group(1)
    return f'"{value[:SHOWN_CHARS]}…"' if len(value) > SHOWN_CHARS else match.group(0)


def excerpt(method: str, path: str, query: bytes) -> str:
    """`GET /Users?filter=userName eq "ade…"`: the path below the provider's base URL and
    the SCIM query parameters, every quoted value cut to a few characters, so it names
    what was asked without carrying the data."""
    parts = path.split("/", 4)
    shown = "/" + parts[4] if len(parts) > 4 else "/"
    params = [(name, LITERAL.sub(shorten, value))
              for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
              if name.lower() in KEPT_PARAMS]
    if params:
        shown += "?" + "&".join(f"{name}={value}" for name, value in params)
    text = f"{method} {shown}"
    return text if len(text) <= MAX_EXCERPT else text[:MAX_EXCERPT - 1] + "…"


async def flush(gw: Gateway) -> None:
    """Write what gathered in one transaction (and prune once a minute); then refresh the
    set of existing providers. What fails to be written is kept for the next flush."""
    buffer = gw.activity
    minutes, last = buffer.take()
    now = gw.clock.now()
    prune = buffer.pruned_at is None or (now - buffer.pruned_at).total_seconds() >= PRUNE_EVERY
    try:
        if minutes or last or prune:
            counts = sorted((pid, minute_stamp(minute), requests, errors)
                            for (pid, minute), (requests, errors) in minutes.items())
            async with gw.store.write() as conn:
                await queries.add_counts(conn, counts)
                await queries.put_last(conn, [last[pid].row(pid) for pid in sorted(last)])
                if prune:
                    await queries.prune(conn, minute_stamp(now - RETENTION))
            if prune:
                buffer.pruned_at = now
        async with gw.store.lookup() as conn:
            buffer.known = set(await queries.provider_ids(conn))
    except BaseException:
        buffer.give_back(minutes, last)
        gw.metrics.activity_flushes.labels("failed").inc()
        raise
    finally:
        buffer.flushing = None
    gw.metrics.activity_flushes.labels("written").inc()


async def run(gw: Gateway) -> None:
    """For the life of the app: flush every settings.activity_flush_interval seconds, and
    once more when it stops."""
    interval = max(gw.settings.activity_flush_interval, 0.1)  # 0 would spin
    try:
        while True:
            gw.heartbeats.beat("activity", interval)
            try:
                await flush(gw)
            except StoreUnavailable:
                pass  # said once by the store's outage lines
            except Exception:  # kept in memory; the next flush tries again
                log.exception("flushing provider activity failed")
            await anyio.sleep(interval)
    finally:
        gw.heartbeats.stop("activity")
        with anyio.CancelScope(shield=True):
            try:
                await flush(gw)
            except StoreUnavailable as exc:
                log.warning("flushing provider activity at shutdown failed: %s", exc.detail)
            except Exception:
                log.exception("flushing provider activity at shutdown failed")


def _local_last(gw: Gateway, provider_id: str) -> dict | None:
    """This process's unflushed last-* entry for the provider, as a row: the current
    buffer's, else that of a flush under way (pending() lists the newer first)."""
    for _, last in gw.activity.pending():
        entry = last.get(provider_id)
        if entry is not None:
            return dict(zip(queries.LAST_COLUMNS, entry.row(provider_id), strict=True))
    return None


def _newer(a: str | None, b: str | None) -> bool:
    return a is not None and (b is None or a > b)


def merge_last(stored: dict | None, local: dict | None) -> dict | None:
    """The database's last-* row and this process's unflushed one, newest per field group
    (the rule the flush applies in SQL)."""
    if stored is None or local is None:
        return stored or local
    out = dict(stored)
    if not _newer(stored["request_at"], local["request_at"]):
        for key in ("request_at", "method", "route", "excerpt", "status"):
            out[key] = local[key]
    if _newer(local["success_at"], stored["success_at"]):
        out["success_at"] = local["success_at"]
    if _newer(local["error_at"], stored["error_at"]):
        for key in ("error_at", "error_status", "error_detail"):
            out[key] = local[key]
    return out


def _local_counts(gw: Gateway, provider_id: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for minutes, _ in gw.activity.pending():
        for (pid, minute), (requests, errors) in minutes.items():
            if pid == provider_id:
                counts = found.setdefault(minute_stamp(minute), [0, 0])
                counts[0] += requests
                counts[1] += errors
    return found


@asynccontextmanager
async def reading(gw: Gateway, conn: Conn | None) -> AsyncIterator[Conn]:
    """The caller's connection when it holds one (a reader held while asking for another
    could wait on itself), else a reader of our own; once every worker of this serve has
    flushed what it holds (flush_calls)."""
    await gather(gw)
    async with nullcontext(conn) if conn is not None else gw.store.read() as reader:
        yield reader


async def series(gw: Gateway, provider_id: str, minutes: int = MAX_MINUTES,
                 conn: Conn | None = None) -> list[dict]:
    """One entry per minute of the last `minutes` (at most a day), oldest first:
    ``{"minute", "requests", "errors"}``, minutes without requests included."""
    minutes = max(1, min(int(minutes), MAX_MINUTES))
    now = gw.clock.now().replace(second=0, microsecond=0)
    first = now - timedelta(minutes=minutes - 1)
    async with reading(gw, conn) as reader:
        rows = await queries.minutes(reader, provider_id, minute_stamp(first))
    counts = {row["minute"]: [int(row["requests"]), int(row["errors"])] for row in rows}
    for minute, (requests, errors) in _local_counts(gw, provider_id).items():
        counts.setdefault(minute, [0, 0])
        counts[minute][0] += requests
        counts[minute][1] += errors
    out = []
    for step in range(minutes):
        minute = minute_stamp(first + timedelta(minutes=step))
        requests, errors = counts.get(minute, (0, 0))
        out.append({"minute": minute, "requests": requests, "errors": errors})
    return out


async def last_seen(gw: Gateway, provider_id: str, conn: Conn | None = None) -> dict:
    """The provider's last request, success and error as stored and as this process has
    not written them yet (the newest of each): a row of LAST_COLUMNS, {} before any."""
    async with reading(gw, conn) as reader:
        stored = await queries.last_request(reader, provider_id)
    return merge_last(stored, _local_last(gw, provider_id)) or {}


async def summary(gw: Gateway, provider_id: str, conn: Conn | None = None) -> dict:
    """The provider's last request (when, what, its status), last success, last error
    (when, status, detail), and its requests and errors over the last 24 hours."""
    async with reading(gw, conn) as reader:
        last = await last_seen(gw, provider_id, reader)
        day = await series(gw, provider_id, MAX_MINUTES, reader)
    return {
        "provider_id": provider_id,
        "last_request_at": last.get("request_at"),
        "last_request": last.get("excerpt"),
        "last_method": last.get("method"),
        "last_route": last.get("route"),
        "last_status": last.get("status"),
        "last_success_at": last.get("success_at"),
        "last_error_at": last.get("error_at"),
        "last_error_status": last.get("error_status"),
        "last_error_detail": last.get("error_detail"),
        "requests_24h": sum(m["requests"] for m in day),
        "errors_24h": sum(m["errors"] for m in day),
    }


async def last_seen_all(gw: Gateway, conn: Conn | None = None) -> dict[str, dict]:
    """Every provider's ``last_seen`` in one query (providers that sent nothing are left
    out)."""
    async with reading(gw, conn) as reader:
        stored = {row["provider_id"]: row for row in await queries.all_last(reader)}
    local = {pid for _, last in gw.activity.pending() for pid in last} - {UNNAMED}
    return {pid: merge_last(stored.get(pid), _local_last(gw, pid)) or {}
            for pid in stored.keys() | local}


async def totals_since(gw: Gateway, minutes: int, conn: Conn | None = None
                       ) -> dict[str, tuple[int, int]]:
    """Every provider's requests and errors over the last ``minutes`` (at most a day; the
    minutes ``series`` would list), counts not written yet included: {id: (requests,
    errors)}."""
    minutes = max(1, min(int(minutes), MAX_MINUTES))
    now = gw.clock.now().replace(second=0, microsecond=0)
    first = now - timedelta(minutes=minutes - 1)
    async with reading(gw, conn) as reader:
        found = dict(await queries.totals(reader, minute_stamp(first)))
    for pending, _ in gw.activity.pending():
        for (pid, minute), (requests, errors) in pending.items():
            if pid != UNNAMED and minute >= first:
                before = found.get(pid, (0, 0))
                found[pid] = (before[0] + requests, before[1] + errors)
    return found
