"""/admin/v1/providers (add, list, show, change, rotate, delete) and /admin/v1/plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts import providers
from gateway.api.admin.endpoint import admin_endpoint, json_body
from gateway.api.http import created
from gateway.errors import GatewayError
from gateway.hooks import describe
from gateway.store import providers as queries

if TYPE_CHECKING:
    from gateway.core import Gateway


class NewProvider(msgspec.Struct, kw_only=True):
    """The fields of POST /providers, typed: a field of the wrong type answers 400."""

    name: str = ""
    auth: str = "bearer"
    plugin: str | None = None
    settings: dict[str, Any] | None = None
    deactivation_delay: str | int | float | None = None
    block_during_delay: bool | None = None


class ProviderChange(msgspec.Struct, kw_only=True):
    """The fields PATCH /providers/{id} may change."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    plugin: str | None | msgspec.UnsetType = msgspec.UNSET
    settings: dict[str, Any] | None | msgspec.UnsetType = msgspec.UNSET
    deactivation_delay: str | int | float | msgspec.UnsetType = msgspec.UNSET
    block_during_delay: bool | msgspec.UnsetType = msgspec.UNSET


def typed(body: dict, shape: type[Any]) -> Any:
    """The body as `shape`; the accounts layer checks values (names, durations, bounds)."""
    try:
        return msgspec.convert(body, shape)
    except msgspec.ValidationError as exc:
        raise GatewayError(f"invalid body: {exc}") from None


@admin_endpoint
async def provider_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        body = typed(await json_body(request), NewProvider)
        settings = dict(body.settings or {})
        for key in providers.TOP_SETTINGS:  # settings that may also be given at the top
            if getattr(body, key) is not None:
                settings[key] = getattr(body, key)
        provider, shown = await providers.create_provider(
            gw, body.name, body.auth, body.plugin, settings)
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
    body = await json_body(request)
    typed(body, ProviderChange)  # the accounts layer takes the checked dict as it came
    changed = await providers.update_provider(gw, pid, body)
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
