"""Reading the sync log and the event feed (both written by gateway.events)."""

from __future__ import annotations

import csv
import io
from datetime import timezone
from typing import Any, AsyncIterator

import msgspec

from gateway.clock import format_time, parse_time
from gateway.core import Gateway

_json = msgspec.json


def _decode(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        return _json.decode(value)
    return value


def entry_view(row: dict) -> dict:
    out = dict(row)
    out["provider"] = out.pop("provider_id")
    out["before"] = _decode(out["before"])
    out["after"] = _decode(out["after"])
    return out


async def query(gw: Gateway, *, provider: str | None = None, user: str | None = None,
                operation: str | None = None, outcome: str | None = None,
                since: str | None = None, until: str | None = None,
                cursor: str | None = None, limit: int = 100) -> dict:
    """Newest first, paged by cursor (the seq of the last entry of the previous page)."""
    where, args = filter_clause(provider=provider, user=user, operation=operation,
                                outcome=outcome, since=since, until=until)
    if cursor:
        where.append("seq < ?")
        args.append(int(cursor) if cursor.isdigit() else 0)
    sql = "SELECT * FROM sync_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    limit = max(1, limit)
    async with gw.store.read() as conn:
        rows = await conn.fetchall(sql + " ORDER BY seq DESC LIMIT ?", [*args, limit + 1])
    items = [entry_view(row) for row in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next_cursor": str(items[-1]["seq"]) if more else None}


def filter_clause(*, provider: str | None = None, user: str | None = None,
                  operation: str | None = None, outcome: str | None = None,
                  since: str | None = None, until: str | None = None) -> tuple[list, list]:
    """The WHERE terms (and their arguments) for the sync log's filters."""
    where: list[str] = []
    args: list = []
    for column, value in (("provider_id", provider), ("resource_id", user),
                          ("operation", operation), ("outcome", outcome)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if since:
        where.append("at >= ?")
        args.append(moment(since, "since"))
    if until:
        where.append("at < ?")
        args.append(moment(until, "until"))
    return where, args


class FilterError(ValueError):
    """A sync-log filter that cannot be understood (answered 400)."""


def moment(text: str, name: str) -> str:
    """An RFC 3339 time or a date, in the stored format (so text order is time order)."""
    try:
        when = parse_time(text.strip())
    except ValueError:
        raise FilterError(f"'{name}' must be an RFC 3339 time such as 2026-01-31T12:00:00Z "
                          f"or a date such as 2026-01-31, not '{text}'") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return format_time(when)


def event_view(row: dict) -> dict:
    return {
        "seq": row["seq"], "type": row["type"], "provider": row["provider_id"],
        "occurred_at": row["occurred_at"], "resource_type": row["resource_type"],
        "resource_id": row["resource_id"], "data": _decode(row["data"]),
    }


async def events_after(gw: Gateway, after: int, limit: int = 100) -> dict:
    """Events in order after a seq; a consumer that keeps the last seq misses none."""
    limit = max(1, min(limit, 1000))
    async with gw.store.read() as conn:
        rows = await conn.fetchall(
            "SELECT * FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        )
    items = [event_view(row) for row in rows]
    return {"items": items, "next_cursor": str(items[-1]["seq"]) if items else str(after)}


CSV_COLUMNS = ("seq", "at", "provider", "actor", "request_id", "method", "path",
               "resource_type", "resource_id", "operation", "outcome", "status", "reason",
               "detail", "before", "after")


def csv_row(item: dict) -> list:
    return [_json.encode(item[c]).decode() if isinstance(item.get(c), (dict, list))
            else item.get(c) for c in CSV_COLUMNS]


def print_entry(item: dict, fmt: str, writer: Any = None) -> None:
    if fmt == "json":
        print(_json.encode(item).decode())
    elif fmt == "csv" and writer is not None:
        writer.writerow(csv_row(item))
    else:
        who = item["provider"] or item["actor"]
        what = f"{item['operation']} {item['resource_type'] or ''} {item['resource_id'] or ''}"
        tail = f" ({item['reason']})" if item.get("reason") else ""
        error = f" {item['status']} {item['detail']}" if item["outcome"] != "success" else ""
        print(f"{item['seq']:>6} {item['at']} {who} {what.strip()} {item['outcome']}"
              f"{error}{tail}")


async def entries_after(gw: Gateway, after: int, **filters: Any) -> list[dict]:
    """Entries newer than seq `after`, oldest first (for following the log)."""
    page = await query(gw, limit=1000, **filters)
    return [item for item in reversed(page["items"]) if item["seq"] > after]


EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
EXPORT_PAGE = 500


async def export_entries(gw: Gateway, **filters: Any) -> AsyncIterator[dict]:
    """Every matching entry, oldest first, read a page at a time: a reader connection is
    never held while the consumer (a slow HTTP client) takes its time."""
    where, args = filter_clause(**filters)
    after = 0
    while True:
        sql = "SELECT * FROM sync_log WHERE " + " AND ".join([*where, "seq > ?"])
        async with gw.store.read() as conn:
            rows = await conn.fetchall(sql + " ORDER BY seq LIMIT ?",
                                       [*args, after, EXPORT_PAGE])
        for row in rows:
            yield entry_view(row)
        if len(rows) < EXPORT_PAGE:
            return
        after = rows[-1]["seq"]


def csv_line(values: list) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(["" if v is None else v for v in values])
    return out.getvalue()


async def export(gw: Gateway, fmt: str, **filters: Any) -> AsyncIterator[str]:
    """The export as text chunks: CSV with a header row, or one JSON object per line."""
    if fmt not in EXPORT_FORMATS:
        raise FilterError(f"'format' must be one of {', '.join(EXPORT_FORMATS)}, not '{fmt}'")
    filter_clause(**filters)  # refuse bad filters before the first byte goes out
    if fmt == "csv":
        yield csv_line(list(CSV_COLUMNS))
    async for item in export_entries(gw, **filters):
        if fmt == "csv":
            yield csv_line(csv_row(item))
        else:
            yield _json.encode(item).decode() + "\n"
