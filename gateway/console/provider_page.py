"""A provider's page, in sections an admin moves between, each at its own address (links, so
they work without JavaScript): Overview at /console/providers/{id} (what it owns and sent,
what needs attention, the connection check and the activity chart), then .../settings,
.../attributes (custom attributes), .../mappings (plugins' panels; listed only when a plugin
has one there), .../guard and .../credential (rotate, delete). Plugins' provider panels
appear in the section each names (ConsolePanel.section)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.accounts import guard as guards
from gateway.accounts import providers
from gateway.accounts.sessions import Session
from gateway.console import custom_attributes, guard, overview
from gateway.console.extension import PROVIDER_SECTIONS
from gateway.console.providers import (
    chart_values,
    connection_values,
    idp_for,
    kind_label,
    provider_or_404,
)
from gateway.console.render import console_of
from gateway.store import console as reads
from gateway.store import providers as queries
from gateway.store.base import ProviderRow
from gateway.store.resources import duplicate_group_names, owned_counts

if TYPE_CHECKING:
    from gateway.core import Gateway

Values = Callable[[Request, "Gateway", ProviderRow], Awaitable[dict]]
TITLES = dict(PROVIDER_SECTIONS)


def sections_of(request: Request) -> list[tuple[str, str]]:
    """The sections listed: all, but Mappings only when a plugin has a panel there."""
    used = {panel.section for panel in console_of(request).panels_on("provider")}
    return [(name, title) for name, title in PROVIDER_SECTIONS
            if name != "mappings" or name in used]


async def frame(request: Request, gw: Gateway, provider: ProviderRow, section: str) -> dict:
    """What every section shows: the provider, the sections, the banner of a tripped
    guard, and the plugins' panels of this section."""
    view = providers.provider_view(gw, provider)
    panels = []
    for panel in console_of(request).panels_on("provider", section):
        markup = await panel.render(request, view)
        if markup:
            panels.append({"title": panel.title, "markup": markup})
    tripped = [{"id": provider.id, "name": provider.name, "held": g["held"]}
               for g in await guards.guard_states(gw)
               if g["provider_id"] == provider.id and g["state"] == guards.TRIPPED]
    idp = idp_for(request, provider)
    return {"provider": provider, "view": view, "idp": idp, "section": section,
            "section_title": TITLES[section], "sections": sections_of(request),
            "kind": kind_label(idp, provider.auth_kind), "panels": panels, "tripped": tripped}


async def overview_values(request: Request, gw: Gateway, provider: ProviderRow) -> dict:
    health = (await overview.provider_health(request, gw, [provider]))[provider.id]
    async with gw.store.read() as conn:
        last = await reads.last_entry(conn, provider.id)
        found = await queries.list_providers(conn)
    return {"health": health, "last": last, "provider_names": {p.id: p.name for p in found},
            **await connection_values(request, gw, provider),
            **await chart_values(gw, provider)}


async def settings_values(request: Request, gw: Gateway, provider: ProviderRow) -> dict:
    extra = {k: v for k, v in provider.settings.items() if k not in providers.TOP_SETTINGS}
    async with gw.store.read() as conn:
        duplicates = await duplicate_group_names(conn, provider.id)
    return {"duplicates": duplicates,
            "plugin_settings": msgspec.json.encode(extra).decode() if extra else ""}


async def attributes_values(request: Request, gw: Gateway, provider: ProviderRow) -> dict:
    return await custom_attributes.card(gw, provider)


async def mappings_values(request: Request, gw: Gateway, provider: ProviderRow) -> dict:
    return {}


async def guard_values(request: Request, gw: Gateway, provider: ProviderRow) -> dict:
    return await guard.card(gw, provider)


async def credential_values(request: Request, gw: Gateway, provider: ProviderRow) -> dict:
    async with gw.store.read() as conn:
        issued = await queries.credential_issued_at(conn, provider.id)
        owned = await owned_counts(conn, provider.id)
    return {"issued": issued, "owned": owned}


SECTION_VALUES: dict[str, Values] = {
    "overview": overview_values, "settings": settings_values,
    "attributes": attributes_values, "mappings": mappings_values, "guard": guard_values,
    "credential": credential_values}


def section_page(name: str) -> Any:
    values_of = SECTION_VALUES[name]

    async def handler(request: Request, gw: Gateway, session: Session) -> Response:
        provider = await provider_or_404(gw, request.path_params["id"])
        values = await frame(request, gw, provider, name)
        values.update(await values_of(request, gw, provider))
        return console_of(request).page(request, f"provider/{name}.html", values)

    handler.__name__ = f"provider_{name}"
    return handler


def routes(page: Any) -> list[BaseRoute]:
    """GET of each section; the POSTs that share an address (saving the settings,
    declaring an attribute, the guard's settings) are other routes."""
    return [page("/providers/{id}" + ("" if name == "overview" else f"/{name}"),
                 section_page(name)) for name, _ in PROVIDER_SECTIONS]
