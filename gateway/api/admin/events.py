"""/admin/v1 routes of the record: the sync log and its export, the event feed, webhooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.accounts.providers import provider_filter
from gateway.api.admin import schemas
from gateway.api.admin.endpoint import (
    admin_endpoint,
    flag_param,
    int_param,
    json_body,
    limit_param,
)
from gateway.api.http import created
from gateway.api.openapi import Operation, documented
from gateway.events import feed, synclog, webhooks

if TYPE_CHECKING:
    from gateway.core import Gateway


async def log_filters(request: Request, gw: Gateway) -> dict:
    params = request.query_params
    filters = {name: params.get(name) for name in synclog.FILTERS}
    filters["provider"] = await provider_filter(gw, filters["provider"])
    return filters


@admin_endpoint
@documented(GET=Operation(summary="The sync log, newest first", query=schemas.SyncLogQuery,
                          response=schemas.SyncLogPage))
async def sync_log(request: Request, gw: Gateway) -> Any:
    return await synclog.query(gw, cursor=request.query_params.get("cursor"),
                               limit=limit_param(request), total=flag_param(request, "total"),
                               **await log_filters(request, gw))


@admin_endpoint
@documented(GET=Operation(summary="The whole matching sync log, oldest first, as JSON lines "
                                  "or CSV", query=schemas.ExportQuery,
                          response={"type": "string"},
                          media_types=tuple(synclog.EXPORT_FORMATS.values())))
async def sync_log_export(request: Request, gw: Gateway) -> Any:
    """The whole matching sync log, oldest first, streamed as CSV or JSON lines."""
    fmt = request.query_params.get("format", "jsonl")
    filters = await log_filters(request, gw)
    synclog.check_export(fmt, filters)  # refused before the first byte goes out
    name = f"sync-log.{'csv' if fmt == 'csv' else 'jsonl'}"
    return StreamingResponse(
        synclog.export(gw, fmt, **filters), media_type=synclog.EXPORT_FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@admin_endpoint
@documented(GET=Operation(summary="Events after a seq, in order (the pull feed)",
                          query=schemas.FeedQuery, response=schemas.EventPage))
async def event_feed(request: Request, gw: Gateway) -> Any:
    return await feed.events_after(gw, int_param(request, "after", 0, 2**62),
                                   limit_param(request))


@admin_endpoint
@documented(
    GET=Operation(summary="List webhooks", response=schemas.WebhookPage),
    POST=Operation(summary="Register a webhook (a generated secret is shown once)",
                   request=schemas.WebhookCreate, response=schemas.WebhookCreated, status=201))
async def webhook_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        body = await json_body(request, schemas.WebhookCreate)
        return created(await webhooks.create(gw, msgspec.structs.asdict(body)))
    return await webhooks.list_all(gw)


@admin_endpoint
@documented(GET=Operation(summary="Show a webhook", response=schemas.Webhook),
            DELETE=Operation(summary="Remove a webhook and its deliveries", status=204))
async def webhook_one(request: Request, gw: Gateway) -> Any:
    if request.method == "DELETE":
        await webhooks.remove(gw, request.path_params["id"])
        return Response(status_code=204)
    return await webhooks.get(gw, request.path_params["id"])


@admin_endpoint
@documented(GET=Operation(summary="A webhook's dead letters, oldest first",
                          query=schemas.PageQuery, response=schemas.DeadLetterPage))
async def dead_letters(request: Request, gw: Gateway) -> Any:
    return await webhooks.dead_letters(
        gw, request.path_params["id"], request.query_params.get("cursor"),
        limit_param(request))


@admin_endpoint
@documented(POST=Operation(summary="Send dead letters again (all, or the seqs named)",
                           request=schemas.Redeliver, body_required=False,
                           response=schemas.Redelivering))
async def redeliver(request: Request, gw: Gateway) -> Any:
    """Body (optional): {"seq": [..]} to pick dead letters; without it, all of them."""
    seqs = (await json_body(request, schemas.Redeliver, optional=True)).seq
    result = await webhooks.redeliver(gw, request.path_params["id"], seqs)
    waker = gw.pm.get_plugin("webhook_delivery")
    if waker is not None:
        waker.set()
    return result
