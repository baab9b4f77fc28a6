"""The console's settings page: the gateway's settings (read only), single sign-on, the
console accounts and the loaded plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.accounts import admins, sso
from gateway.accounts.sessions import Session
from gateway.console.render import console_of
from gateway.hooks import describe
from gateway.settings import SSO_SECRET_VARIABLE

if TYPE_CHECKING:
    from gateway.core import Gateway

# The whole file is plugins' business; a URL may hold a password; single sign-on has its
# own card (without its client secret).
HIDDEN = {"config", "database", "console_sso"}
# Names of settings that hold a credential (metrics_token, secret_keys, ...).
SECRET_ENDINGS = ("token", "secret", "password", "key", "keys")


def shown_setting(name: str) -> bool:
    return name not in HIDDEN and not name.endswith(SECRET_ENDINGS)


async def settings_values(gw: Gateway, form: dict | None = None) -> dict[str, Any]:
    """What the Settings page shows; ``form``: single sign-on values to show again."""
    values = msgspec.structs.asdict(gw.settings)
    shown = [(k, v) for k, v in sorted(values.items()) if shown_setting(k)]
    shown.insert(0, ("public_url", gw.settings.public_url))
    found = await sso.config(gw)
    current = msgspec.structs.asdict(found.sso) if found.sso else (
        found.saved["settings"] if found.saved else {})
    current = {k: v for k, v in current.items() if k != "client_secret"}
    return {
        "settings": shown, "accounts": await admins.list_admins(gw),
        "plugins": describe(gw.pm), "sso": form if form is not None else current,
        "sso_source": found.source, "sso_problem": found.problem,
        "sso_down": sso.unavailable(gw, found), "redirect_uri": sso.redirect_uri(gw),
        "secret_variable": SSO_SECRET_VARIABLE, "test": None, "sso_error": None,
        "secret_set": bool(found.sso and found.sso.client_secret),
    }


async def settings_page(request: Request, gw: Gateway, session: Session) -> Response:
    return console_of(request).page(request, "settings.html", await settings_values(gw))


def routes(page: Any) -> list[BaseRoute]:
    return [page("/settings", settings_page)]
