"""/admin/v1/providers (add, list, show, change, rotate, delete) and /admin/v1/plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts import providers
from gateway.api.admin.endpoint import admin_endpoint, json_body
from gateway.api.http import created
from gateway.hooks import describe
from gateway.store import providers as queries

if TYPE_CHECKING:
    from gateway.core import Gateway


@admin_endpoint
async def provider_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        body = await json_body(request)
        settings = dict(body.get("settings") or {})
        settings.update({k: body[k] for k in providers.TOP_SETTINGS if k in body})
        provider, shown = await providers.create_provider(
            gw, str(body.get("name", "")), str(body.get("auth", "bearer")),
            body.get("plugin"), settings)
        view = providers.provider_view(gw, provider)
        view["credentials"] = {label: value for label, value in shown}
        return created(view)
    async with gw.store.read() as conn:
        found = await queries.list_providers(conn)
        items = [await providers.provider_details(gw, conn, p) for p in found]
    return {"items": items, "next_cursor": None}


@admin_endpoint
async def provider_one(request: Request, gw: Gateway) -> Any:
    pid = request.path_params["id"]
    if request.method == "GET":
        async with gw.store.read() as conn:
            return await providers.provider_details(gw, conn,
                                                    await providers.resolve(conn, pid))
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
async def plugin_list(request: Request, gw: Gateway) -> Any:
    """The plugins this gateway loaded, with their versions and the hooks each implements."""
    return {"items": describe(gw.pm), "next_cursor": None}
