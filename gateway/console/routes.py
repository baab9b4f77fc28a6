"""The console under /console: its routes, the plugins' pages (`console_pages`), the static
files, and the security headers around all of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles

from gateway.accounts.sessions import Session
from gateway.console import (
    auth,
    auth_failures,
    custom_attributes,
    events,
    guard,
    overview,
    pages,
    provider_page,
    providers,
    sso,
    synclog,
    users,
    webhooks,
)
from gateway.console.auth import SecurityHeaders, console_endpoint
from gateway.console.extension import (
    PROVIDER_SECTIONS,
    ConsoleIdp,
    ConsolePage,
    ConsolePanel,
    ConsoleUserFilter,
)
from gateway.console.render import STATIC, Console, NavItem
from gateway.settings import ConfigError

if TYPE_CHECKING:
    from gateway.core import Gateway

Endpoint = Callable[[Request], Awaitable[Response]]


def build_console(gw: Gateway) -> tuple[Console, list[ConsolePage]]:
    """The console of this app, from the core's pages and what plugins add."""
    found = [item for batch in gw.hooks.call_sync("console_pages") for item in batch]
    plugin_pages = [i for i in found if isinstance(i, ConsolePage)]
    panels = [i for i in found if isinstance(i, ConsolePanel)]
    sections = [name for name, _ in PROVIDER_SECTIONS]
    for panel in panels:
        if panel.on == "provider" and panel.section not in sections:
            raise ConfigError(f"the console panel '{panel.title}' names the provider page's "
                              f"section '{panel.section}'; it has {', '.join(sections)}")
    idps = [i for i in found if isinstance(i, ConsoleIdp)]
    with_templates: list[ConsolePage | ConsolePanel] = [*plugin_pages, *panels]
    folders = [Path(i.templates) for i in with_templates if i.templates]
    nav = [NavItem(p.path, p.title) for p in plugin_pages if p.title]
    console = Console(list(dict.fromkeys(folders)), nav, panels)
    console.idps = idps
    console.user_filters = [i for i in found if isinstance(i, ConsoleUserFilter)]
    console.user_columns = [c for batch in gw.hooks.call_sync("user_columns") for c in batch]
    return console, plugin_pages


def plugin_endpoint(endpoint: Endpoint) -> Endpoint:
    async def handler(request: Request, gw: Gateway, session: Session) -> Response:
        return await endpoint(request)

    return console_endpoint(handler)


def page(path: str, handler: auth.Handler, methods: tuple[str, ...] = ("GET",)) -> Route:
    return Route(path, console_endpoint(handler), methods=list(methods))


def core_routes() -> list[BaseRoute]:
    both = ("GET", "POST")
    return [
        Route("/sign-in", auth.sign_in_page, methods=list(both)),
        Route("/sign-out", console_endpoint(auth.sign_out, write_access=False),
              methods=["POST"]),
        page("/", overview.overview),
        page("/providers", providers.provider_list),
        page("/providers/new", providers.provider_new, both),
        *provider_page.routes(page),
        page("/providers/{id}/settings", providers.provider_settings, ("POST",)),
        page("/providers/{id}/rotate", providers.provider_rotate, both),
        page("/providers/{id}/delete", providers.provider_delete, ("POST",)),
        page("/providers/{id}/connection", providers.provider_connection),
        page("/providers/{id}/activity", providers.provider_activity),
        *users.routes(page), *synclog.routes(page), *webhooks.routes(page),
        *events.routes(page), *pages.routes(page),
        *guard.routes(page), *auth_failures.routes(page), *custom_attributes.routes(page),
        *sso.routes(page),
    ]


def mount(gw: Gateway) -> tuple[Console, Mount]:
    console, plugin_pages = build_console(gw)
    routes: list[BaseRoute] = [
        Mount("/static", app=StaticFiles(directory=STATIC)),
        *core_routes(),
        *[Route(p.path, plugin_endpoint(p.endpoint), methods=list(p.methods))
          for p in plugin_pages],
    ]
    router = Router(routes=routes)
    return console, Mount("/console", app=SecurityHeaders(router))
