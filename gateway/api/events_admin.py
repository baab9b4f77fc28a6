"""Admin routes for the sync-log export and webhooks (under /admin/v1)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway import synclog, webhooks
from gateway.api.admin import AdminError, admin_endpoint, int_param, json_body
from gateway.core import Gateway


def log_filters(request: Request) -> dict:
    params = request.query_params
    return {name: params.get(name) for name in
            ("provider", "user", "operation", "outcome", "since", "until")}


@admin_endpoint
async def sync_log_export(request: Request, gw: Gateway) -> Any:
    """The whole matching sync log, oldest first, streamed as CSV or JSON lines."""
    fmt = request.query_params.get("format", "jsonl")
    filters = log_filters(request)
    if fmt not in synclog.EXPORT_FORMATS:
        raise AdminError(400, f"'format' must be one of {', '.join(synclog.EXPORT_FORMATS)}")
    try:
        synclog.filter_clause(**filters)
    except synclog.FilterError as exc:
        raise AdminError(400, str(exc)) from None
    name = f"sync-log.{'csv' if fmt == 'csv' else 'jsonl'}"
    return StreamingResponse(
        synclog.export(gw, fmt, **filters), media_type=synclog.EXPORT_FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _call(work: Any) -> Any:
    try:
        return await work
    except webhooks.WebhookError as exc:
        raise AdminError(exc.status, str(exc)) from None


@admin_endpoint
async def webhook_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        created = await _call(webhooks.create(gw, await json_body(request, gw)))
        return {**created, "_created": True}
    return await webhooks.list_all(gw)


@admin_endpoint
async def webhook_one(request: Request, gw: Gateway) -> Any:
    if request.method == "DELETE":
        await _call(webhooks.remove(gw, request.path_params["id"]))
        return Response(status_code=204)
    return await _call(webhooks.get(gw, request.path_params["id"]))


@admin_endpoint
async def dead_letters(request: Request, gw: Gateway) -> Any:
    return await _call(webhooks.dead_letters(
        gw, request.path_params["id"], request.query_params.get("cursor"),
        int_param(request, "limit", 100)))


@admin_endpoint
async def redeliver(request: Request, gw: Gateway) -> Any:
    """Body (optional): {"seq": [..]} to pick dead letters; without it, all of them."""
    body = {}
    if (await request.body()).strip():
        body = await json_body(request, gw)
    result = await _call(webhooks.redeliver(gw, request.path_params["id"], body.get("seq")))
    waker = gw.pm.get_plugin("webhook_delivery")
    if waker is not None:
        waker.set()
    return result


def routes() -> list[Route]:
    return [
        Route("/sync-log/export", sync_log_export, methods=["GET"]),
        Route("/webhooks", webhook_list, methods=["GET", "POST"]),
        Route("/webhooks/{id}", webhook_one, methods=["GET", "DELETE"]),
        Route("/webhooks/{id}/dead-letters", dead_letters, methods=["GET"]),
        Route("/webhooks/{id}/redeliver", redeliver, methods=["POST"]),
    ]
