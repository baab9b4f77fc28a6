"""Console pages for the sync log: the filtered list, who / what / by whom / when / outcome,
with each batch (a Bulk request, a guard release, a plugin's run) as one row that opens to
its entries (new entries appear while it is open); one entry with its before/after diff;
and the CSV or JSONL export of the current filter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

from gateway.accounts.sessions import Session
from gateway.console.diff import diff
from gateway.console.render import console_of
from gateway.console.words import OPERATIONS, SYSTEM_ACTORS
from gateway.errors import NotFound
from gateway.events import synclog
from gateway.events.synclog_write import UNCHANGED
from gateway.params import parse_int
from gateway.store import admins as admin_queries
from gateway.store import console as reads
from gateway.store import names
from gateway.store import providers as queries
from gateway.store import synclog as log_queries
from gateway.store.base import json_column

if TYPE_CHECKING:
    from gateway.core import Gateway

PAGE = 50
# The outcome filter's choices: each outcome, and everything but the writes that changed
# nothing (an IdP's full resync can write thousands of those).
OUTCOMES = (("success", "success"), ("error", "error"), ("unchanged", "unchanged"),
            ("success,error", "success or error (hide unchanged)"))


def filters_of(request: Request) -> dict[str, Any]:
    params = request.query_params
    return {name: (params.get(name) or "").strip() or None for name in synclog.FILTERS}


def actor_choices(providers: list, admins: list) -> list[tuple[str, str]]:
    """What the "By whom" filter suggests: each console account, each provider's IdP, the
    gateway's own actors (values as stored, labels in words)."""
    return [*((f"console:{a.name}", f"admin {a.name} (console)") for a in admins),
            *((p.name, f"{p.name} (IdP)") for p in providers),
            *SYSTEM_ACTORS.items()]


def batch_query(filters: dict[str, Any], batch: str) -> str:
    """The link that opens a batch: its entries under the same filter, ungrouped."""
    return urlencode({**{k: v for k, v in filters.items() if v and k != "batch"},
                      "batch": batch})


async def sync_log_page(request: Request, gw: Gateway, session: Session) -> Response:
    filters = filters_of(request)
    cursor = request.query_params.get("cursor") or None
    page = await synclog.query(gw, cursor=cursor, limit=PAGE, grouped=True, named=True,
                               **filters)
    async with gw.store.read() as conn:
        found = await queries.list_providers(conn)
        admins = await admin_queries.list_admins(conn)
        newest = await reads.newest_seq(conn)
        batch_size = await log_queries.count(conn, synclog.checked(
            {"batch": filters["batch"]})) if filters["batch"] else None
    query = {k: v for k, v in filters.items() if v}
    next_url = ("/console/sync-log?" + urlencode({**query, "cursor": page["next_cursor"]})
                if page["next_cursor"] else None)
    return console_of(request).page(request, "sync_log.html", {
        "items": page["items"], "filters": filters, "providers": found,
        "names": {p.id: p.name for p in found}, "outcomes": OUTCOMES,
        "operations": OPERATIONS, "actors": actor_choices(found, admins),
        "next_url": next_url, "query": urlencode(query), "live": cursor is None,
        "newest": newest, "batch_size": batch_size, "batch_query": batch_query,
        "query_without_batch": urlencode({k: v for k, v in query.items() if k != "batch"}),
    })


async def sync_log_new(request: Request, gw: Gateway, session: Session) -> Response:
    """Entries after seq `after` that match the filter, as table rows (for live updates):
    a batch with new entries comes as its row again, counting them all, and the page's
    script puts it in place of the one it showed."""
    seq = parse_int(request.query_params.get("after") or "0", "after")
    filters = filters_of(request)
    items = await synclog.entries_after(gw, seq, grouped=True, named=True, **filters)
    async with gw.store.read() as conn:
        names = {p.id: p.name for p in await queries.list_providers(conn)}
    rows = console_of(request).fragment(request, "sync_log_rows.html", {
        "items": list(reversed(items)), "names": names, "fresh": True, "filters": filters,
        "batch_query": batch_query})
    newest = max([seq, *[item["seq"] for item in items]])
    return JSONResponse({"rows": str(rows), "after": newest},
                        headers={"Cache-Control": "no-store"})


async def sync_log_entry(request: Request, gw: Gateway, session: Session) -> Response:
    seq = parse_int(request.path_params["seq"], "seq")
    async with gw.store.read() as conn:
        row = await reads.log_entry(conn, seq)
        if row is None:
            raise NotFound(f"There is no sync-log entry {seq}")
        provider = await queries.get_provider(conn, row["provider_id"]) \
            if row["provider_id"] else None
        named = await names.resource_names(conn, [row["resource_id"]]) \
            if row["resource_type"] in ("User", "Group") and row["resource_id"] else {}
        batch_size = await log_queries.count(conn, synclog.checked(
            {"batch": row["batch"]})) if row["batch"] else None
    entry = synclog.entry_view(row)
    entry["names"] = named.get(row["resource_id"] or "")
    rows = diff(json_column(row["before"]), json_column(row["after"]),
                received=entry["outcome"] == UNCHANGED)
    return console_of(request).page(request, "sync_log_entry.html", {
        "entry": entry, "provider": provider, "diff": rows, "batch_size": batch_size})


async def sync_log_export(request: Request, gw: Gateway, session: Session) -> Response:
    """The whole matching log as CSV or JSON lines (?format=jsonl), oldest first (the admin
    API's export)."""
    filters = filters_of(request)
    fmt = request.query_params.get("format") or "csv"
    synclog.check_export(fmt, filters)
    return StreamingResponse(
        synclog.export(gw, fmt, **filters), media_type=synclog.EXPORT_FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="sync-log.{fmt}"'})


def routes(page: Any) -> list[BaseRoute]:
    return [
        page("/sync-log", sync_log_page),
        page("/sync-log/new", sync_log_new),
        page("/sync-log/export", sync_log_export),
        page("/sync-log/{seq}", sync_log_entry),
    ]
