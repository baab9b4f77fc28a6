"""The console's event feed: outbox events in order, newest first, paged by seq."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.accounts.sessions import Session
from gateway.console.render import console_of
from gateway.events import feed
from gateway.params import parse_int
from gateway.store import names, outbox

if TYPE_CHECKING:
    from gateway.core import Gateway

PAGE = 50


async def event_feed(request: Request, gw: Gateway, session: Session) -> Response:
    raw = request.query_params.get("before") or None
    given = parse_int(raw, "before") if raw else None
    async with gw.store.read() as conn:
        newest = await outbox.newest_seq(conn)
    before = newest + 1 if given is None else given
    start = max(0, before - 1 - PAGE)
    page = await feed.events_after(gw, start, PAGE)
    items = [e for e in reversed(page["items"]) if e["seq"] < before]
    async with gw.store.read() as conn:
        found = await names.resource_names(conn, [e.get("resource_id") for e in items])
    return console_of(request).page(request, "events.html", {
        "items": [{**e, "name": names.name_of(found.get(e.get("resource_id") or ""))}
                  for e in items],
        "older": start if start > 0 else None, "newest": newest})


def routes(page: Any) -> list[BaseRoute]:
    return [page("/events", event_feed)]
