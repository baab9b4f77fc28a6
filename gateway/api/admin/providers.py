"""/admin/v1/providers (add, list, show, change, rotate, delete) and /admin/v1/plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts import providers
from gateway.api.admin.endpoint import admin_endpoint, int_param, json_body
from gateway.api.http import created
from gateway.errors import NotFound
from gateway.hooks import describe
from gateway.observability import activity
from gateway.store import providers as queries

if TYPE_CHECKING:
    from gateway.core import Gateway


@admin_endpoint
async def provider_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        body = await json_body(request)
        settings = dict(body.get("settings") or {})
        if "deactivation_delay" in body:
            settings["deactivation_delay"] = body["deactivation_delay"]
        provider, shown = await providers.create_provider(
            gw, str(body.get("name", "")), str(body.get("auth", "bearer")),
            body.get("plugin"), settings)
        view = providers.provider_view(gw, provider)
        view["credentials"] = {label: value for label, value in shown}
        return created(view)
    async with gw.store.read() as conn:
        found = await queries.list_providers(conn)
    return {"items": [providers.provider_view(gw, p) for p in found], "next_cursor": None}


@admin_endpoint
async def provider_one(request: Request, gw: Gateway) -> Any:
    pid = request.path_params["id"]
    if request.method == "GET":
        async with gw.store.read() as conn:
            found = await queries.find_provider(conn, pid)
        if found is None:
            raise NotFound(f"no provider '{pid}'")
        return providers.provider_view(gw, found)
    if request.method == "DELETE":
        await providers.delete_provider(gw, pid)
        return Response(status_code=204)
    changed = await providers.update_provider(gw, pid, await json_body(request))
    return providers.provider_view(gw, changed)


@admin_endpoint
async def provider_rotate(request: Request, gw: Gateway) -> Any:
    provider, shown = await providers.rotate_provider(gw, request.path_params["id"])
    view = providers.provider_view(gw, provider)
    view["credentials"] = {label: value for label, value in shown}
    return view


@admin_endpoint
async def provider_activity(request: Request, gw: Gateway) -> Any:
    """The provider's last request, success and error, and its requests and errors per
    minute over the last `minutes` (default and most: 1440)."""
    pid = request.path_params["id"]
    async with gw.store.read() as conn:
        found = await queries.find_provider(conn, pid)
    if found is None:
        raise NotFound(f"no provider '{pid}'")
    minutes = int_param(request, "minutes", activity.MAX_MINUTES, activity.MAX_MINUTES, 1)
    return {**await activity.summary(gw, found.id),
            "series": await activity.series(gw, found.id, minutes)}


@admin_endpoint
async def plugin_list(request: Request, gw: Gateway) -> Any:
    """The plugins this gateway loaded, with their versions and the hooks each implements."""
    return {"items": describe(gw.pm), "next_cursor": None}
