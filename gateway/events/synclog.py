"""Reading and exporting the sync log (written by gateway.events.synclog_write)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.clock import format_time, parse_time
from gateway.errors import GatewayError
from gateway.events.synclog_write import UNCHANGED
from gateway.store import names
from gateway.store import synclog as queries
from gateway.store.base import json_column, seq_cursor

if TYPE_CHECKING:
    from gateway.core import Gateway

_json = msgspec.json

# `user` is a resource's id (a user's history); `who` a user's userName or email address,
# `group` a group's displayName, `actor` who made the change (as stored, an admin's or a
# provider's name); `batch` the entries of one batch (a Bulk request, a guard release...).
FILTERS = ("provider", "user", "who", "group", "actor", "operation", "outcome", "since",
           "until", "batch")
NAMES = ("who", "group", "actor")
MAX_NAME = 256  # characters of a name filter
OUTCOMES = ("success", "error", UNCHANGED)
EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
EXPORT_PAGE = 500
CSV_COLUMNS = ("seq", "at", "provider", "actor", "request_id", "method", "path",
               "resource_type", "resource_id", "subject", "operation", "outcome", "status",
               "reason", "detail", "before", "after", "batch")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class FilterError(GatewayError):
    """A sync-log filter that cannot be understood (answered 400)."""


def entry_view(row: dict) -> dict:
    out = dict(row)
    out["provider"] = out.pop("provider_id")
    out["before"] = json_column(out["before"])
    out["after"] = json_column(out["after"])
    return out


def checked(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters with their times in the stored format; a bad one raises FilterError.
    (`provider` is an id: callers resolve a name with accounts.providers.provider_filter.)"""
    out = {name: filters.get(name) for name in FILTERS}
    for name, given in out.items():
        if isinstance(given, str) and "\x00" in given:  # refused alike on both stores
            raise FilterError(f"'{name}' may not contain the NUL character (\\u0000)")
    for name in NAMES:
        given = out[name]
        if given is not None:
            text = str(given).strip()
            if len(text) > MAX_NAME:
                raise FilterError(f"'{name}' is at most {MAX_NAME} characters")
            out[name] = text or None
    if out["outcome"]:
        out["outcome"] = outcomes(str(out["outcome"]))
    for name in ("since", "until"):
        given = out[name]
        if given:
            out[name] = moment(str(given), name)
    return out


def outcomes(text: str) -> tuple[str, ...]:
    """One outcome, or several separated by commas (`success,error` leaves out the writes
    that changed nothing)."""
    wanted = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not wanted or any(o not in OUTCOMES for o in wanted):
        raise FilterError(f"'outcome' is one of {', '.join(OUTCOMES)}, or several of them "
                          f"separated by commas, not '{text}'")
    return wanted


def moment(text: str, name: str) -> str:
    """An RFC 3339 time or a date, in the stored format (so text order is time order)."""
    try:
        when = parse_time(text.strip())
    except ValueError:
        raise FilterError(f"'{name}' must be an RFC 3339 time such as 2026-01-31T12:00:00Z "
                          f"or a date such as 2026-01-31, not '{text}'") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return format_time(when)


async def query(gw: Gateway, *, cursor: str | None = None, limit: int = 100,
                total: bool = False, grouped: bool = False, named: bool = False,
                after: int | None = None, **filters: Any) -> dict:
    """Newest first, paged by cursor (the seq of the last entry of the previous page);
    `total` adds how many entries match in all. `grouped`: a batch is one item (its newest
    matching entry) with `batch_entries` and `batch_errors`, the matching entries it
    stands for, and `batch_first`, the first of them (what started it, by whom); `named`:
    each item has `names`, what its resource is called now (None when
    it is gone). `after`: only entries newer than that seq."""
    wanted = checked(filters)
    before = seq_cursor(cursor)
    limit = max(1, limit)
    # A batch is opened, or entries about one user or group are asked for: each entry.
    grouped = grouped and not any(wanted[k] for k in ("batch", "user", "who", "group"))
    async with gw.store.read() as conn:
        rows = await queries.newest(conn, wanted, before, limit + 1, grouped, after)
        count = await queries.count(conn, wanted) if total else None
        shown = rows[:limit]
        sizes = await queries.batches(conn, wanted, sorted(
            {r["batch"] for r in shown if r.get("batch")})) if grouped else {}
        firsts = {row["batch"]: row for row in await queries.by_seq(conn, sorted(
            size["first_seq"] for size in sizes.values() if size["entries"] > 1))}
        found = await names.resource_names(conn, {
            r["resource_id"] for r in shown if r["resource_id"]
            and r["resource_type"] in ("User", "Group")}) if named else {}
    items = [entry_view(row) for row in rows[:limit]]
    for item in items:
        if grouped:
            size = sizes.get(item.get("batch") or "", {})
            item["batch_entries"] = size.get("entries", 1)
            item["batch_errors"] = size.get("errors", int(item["outcome"] == "error"))
            first = firsts.get(item.get("batch") or "")
            if first is not None:
                item["batch_first"] = entry_view(first)
        if named:
            item["names"] = found.get(item["resource_id"] or "")
    more = len(rows) > limit
    page: dict = {"items": items, "next_cursor": str(items[-1]["seq"]) if more else None}
    if count is not None:
        page["total"] = count
    return page


async def entries_after(gw: Gateway, after: int, *, grouped: bool = False,
                        named: bool = False, **filters: Any) -> list[dict]:
    """Entries newer than seq `after`, oldest first (for following the log); `grouped`, a
    batch with new entries as one item that counts all of them, old ones too."""
    page = await query(gw, limit=1000, grouped=grouped, named=named, after=after, **filters)
    return list(reversed(page["items"]))


async def export_entries(gw: Gateway, **filters: Any) -> AsyncIterator[dict]:
    """Every matching entry, oldest first, read a page at a time: a reader connection is
    never held while the consumer (a slow HTTP client) takes its time."""
    wanted = checked(filters)
    after = 0
    while True:
        async with gw.store.read() as conn:
            rows = await queries.oldest_after(conn, wanted, after, EXPORT_PAGE)
        for row in rows:
            yield entry_view(row)
        if len(rows) < EXPORT_PAGE:
            return
        after = rows[-1]["seq"]


def csv_row(item: dict) -> list:
    """An entry as the cells of a CSV row: every text cell safe to open in a spreadsheet."""
    return [neutralised(_json.encode(item[c]).decode() if isinstance(item.get(c), (dict, list))
                        else item.get(c)) for c in CSV_COLUMNS]


def neutralised(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, with a single quote before it
    (OWASP, CSV injection): the log holds what IdPs sent (a request id, a userName, an
    error's detail), and `=HYPERLINK(...)` in an X-Request-Id must stay text in Excel. The
    JSON lines export keeps every value as it was."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_line(values: list) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(["" if v is None else v for v in values])
    return out.getvalue()


def check_export(fmt: str, filters: dict[str, Any]) -> None:
    """Refuse a bad format or filter before the first byte of an export goes out."""
    if fmt not in EXPORT_FORMATS:
        raise FilterError(f"'format' must be one of {', '.join(EXPORT_FORMATS)}, not '{fmt}'")
    checked(filters)


async def export(gw: Gateway, fmt: str, **filters: Any) -> AsyncIterator[str]:
    """The export as text chunks: CSV with a header row, or one JSON object per line."""
    check_export(fmt, filters)
    if fmt == "csv":
        yield csv_line(list(CSV_COLUMNS))
    async for item in export_entries(gw, **filters):
        if fmt == "csv":
            yield csv_line(csv_row(item))
        else:
            yield _json.encode(item).decode() + "\n"
