"""/admin/v1/providers (add, list, show, change, rotate, delete) and /admin/v1/plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts import providers
from gateway.api.admin.endpoint import admin_endpoint, json_body
from gateway.api.http import created
from gateway.clock import parse_duration
from gateway.errors import GatewayError, NotFound
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


class ProviderChange(msgspec.Struct, kw_only=True):
    """The fields PATCH /providers/{id} may change."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    plugin: str | None | msgspec.UnsetType = msgspec.UNSET
    settings: dict[str, Any] | None | msgspec.UnsetType = msgspec.UNSET
    deactivation_delay: str | int | float | msgspec.UnsetType = msgspec.UNSET


MAX_DELAY = 10 * 365 * 86400  # seconds: a longer delay is a typo, and past the clock's range


def typed(body: dict, shape: type[Any]) -> Any:
    try:
        checked = msgspec.convert(body, shape)
    except msgspec.ValidationError as exc:
        raise GatewayError(f"invalid body: {exc}") from None
    for delay in (body.get("deactivation_delay"),
                  (body.get("settings") or {}).get("deactivation_delay")):
        try:
            too_long = delay is not None and parse_duration(delay) > MAX_DELAY
        except (ValueError, OverflowError):
            continue  # the accounts layer says what is wrong with it
        if too_long:
            raise GatewayError(f"deactivation_delay: at most {MAX_DELAY // 86400} days")
    return checked


@admin_endpoint
async def provider_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        body = typed(await json_body(request), NewProvider)
        settings = dict(body.settings or {})
        if body.deactivation_delay is not None:
            settings["deactivation_delay"] = body.deactivation_delay
        provider, shown = await providers.create_provider(
            gw, body.name, body.auth, body.plugin, settings)
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
