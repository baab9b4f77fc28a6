"""/admin/v1/providers (add, list, show, change, rotate, delete, activity, connection) and
/admin/v1/plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts import providers
from gateway.api.admin import schemas
from gateway.api.admin.endpoint import admin_endpoint, int_param, json_body
from gateway.api.http import created
from gateway.api.openapi import Operation, documented
from gateway.hooks import describe
from gateway.observability import activity
from gateway.store import providers as queries

if TYPE_CHECKING:
    from gateway.core import Gateway


@admin_endpoint
@documented(
    GET=Operation(summary="List providers, with what each owns", response=schemas.ProviderPage),
    POST=Operation(summary="Add a provider; its new credential is shown once",
                   request=schemas.ProviderCreate, response=schemas.ProviderWithCredentials,
                   status=201))
async def provider_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        body = await json_body(request, schemas.ProviderCreate)
        settings = dict(body.settings)
        for key in providers.TOP_SETTINGS:  # settings that may also be given at the top
            if getattr(body, key) is not UNSET:
                settings[key] = getattr(body, key)
        provider, shown = await providers.create_provider(gw, body.name, body.auth,
                                                          body.plugin, settings)
        view = providers.provider_view(gw, provider)
        view["credentials"] = {label: value for label, value in shown}
        return created(view)
    async with gw.store.read() as conn:
        found = await queries.list_providers(conn)
        items = [await providers.provider_details(gw, conn, p) for p in found]
    return {"items": items, "next_cursor": None}


@admin_endpoint
@documented(
    GET=Operation(summary="Show a provider (by id or name) and what it owns",
                  response=schemas.ProviderDetails),
    PATCH=Operation(summary="Change a provider's name, plugin or settings",
                    request=schemas.ProviderChange, response=schemas.Provider),
    DELETE=Operation(summary="Delete a provider that owns no users or groups", status=204))
async def provider_one(request: Request, gw: Gateway) -> Any:
    pid = request.path_params["id"]
    if request.method == "GET":
        async with gw.store.read() as conn:
            return await providers.provider_details(gw, conn,
                                                    await providers.resolve(conn, pid))
    if request.method == "DELETE":
        await providers.delete_provider(gw, pid)
        return Response(status_code=204)
    changes = msgspec.structs.asdict(await json_body(request, schemas.ProviderChange))
    changed = await providers.update_provider(
        gw, pid, {name: value for name, value in changes.items() if value is not UNSET})
    return providers.provider_view(gw, changed)


@admin_endpoint
@documented(POST=Operation(summary="Revoke every secret of a provider and issue a new one, "
                                   "shown once", response=schemas.ProviderWithCredentials))
async def provider_rotate(request: Request, gw: Gateway) -> Any:
    provider, shown = await providers.rotate_provider(gw, request.path_params["id"])
    view = providers.provider_view(gw, provider)
    view["credentials"] = {label: value for label, value in shown}
    return view


@admin_endpoint
@documented(GET=Operation(summary="A provider's recent activity", query=schemas.ActivityQuery,
                          response=schemas.Activity))
async def provider_activity(request: Request, gw: Gateway) -> Any:
    """The provider's last request, success and error, and its requests and errors per
    minute over the last `minutes` (default and most: 1440)."""
    async with gw.store.read() as conn:
        found = await providers.resolve(conn, request.path_params["id"])
    minutes = int_param(request, "minutes", activity.MAX_MINUTES, activity.MAX_MINUTES, 1)
    return {**await activity.summary(gw, found.id),
            "series": await activity.series(gw, found.id, minutes)}


@admin_endpoint
@documented(GET=Operation(summary="Whether a provider's IdP has reached the gateway with its "
                                  "current credential: waiting, refused (how many, why) or "
                                  "connected (with what)", response=schemas.Connection))
async def provider_connection(request: Request, gw: Gateway) -> Any:
    async with gw.store.read() as conn:
        found = await providers.resolve(conn, request.path_params["id"])
        return await providers.connection(gw, found, conn)


@admin_endpoint
@documented(GET=Operation(summary="The loaded plugins, their versions and hooks",
                          response=schemas.PluginPage))
async def plugin_list(request: Request, gw: Gateway) -> Any:
    """The plugins this gateway loaded, with their versions and the hooks each implements."""
    return {"items": describe(gw.pm), "next_cursor": None}
