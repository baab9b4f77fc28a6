"""The console's settings page: the gateway's settings (read only), the console accounts
and the loaded plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.accounts import admins
from gateway.accounts.sessions import Session
from gateway.console.render import console_of
from gateway.hooks import describe

if TYPE_CHECKING:
    from gateway.core import Gateway

HIDDEN = {"config", "database"}  # the whole file is plugins' business; a URL may hold a password
SECRET_WORDS = ("token", "secret", "password", "key")  # a setting that holds a credential


def shown_setting(name: str) -> bool:
    return name not in HIDDEN and not any(word in name for word in SECRET_WORDS)


async def settings_page(request: Request, gw: Gateway, session: Session) -> Response:
    values = msgspec.structs.asdict(gw.settings)
    shown = [(k, v) for k, v in sorted(values.items()) if shown_setting(k)]
    shown.insert(0, ("public_url", gw.settings.public_url))
    return console_of(request).page(request, "settings.html", {
        "settings": shown, "accounts": await admins.list_admins(gw),
        "plugins": describe(gw.pm)})


def routes(page: Any) -> list[BaseRoute]:
    return [page("/settings", settings_page)]
