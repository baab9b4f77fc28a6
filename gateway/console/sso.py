"""Single sign-on in the console: the way out to the identity provider and back, the
settings on the Settings page with their test sign-in, and disabling accounts.

The way out is a link (GET), not a form: the console's Content-Security-Policy allows forms
to post only to itself, and a browser applies that to the redirect a form's answer makes.
Starting a sign-in costs the client one of its sign-in attempts a minute
(``console_sign_ins_per_client``), so nobody fills the table of pending sign-ins.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.accounts import admins, sessions, sign_in_limits, sso
from gateway.accounts.sessions import Session
from gateway.accounts.throttle import client_key
from gateway.console.auth import (
    COOKIE,
    Refused,
    form_of,
    redirect,
    safe_next,
    set_cookie,
    sign_in_form,
    signed_in,
)
from gateway.console.pages import settings_values
from gateway.console.render import console_of, gateway_of
from gateway.errors import GatewayError
from gateway.settings import SSO_KEYS

if TYPE_CHECKING:
    from gateway.core import Gateway

BROWSER_COOKIE = "ig_console_sso"  # the browser's pre-sign-in session for single sign-on
BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
LISTS = ("admin_values", "auditor_values", "break_glass")  # one value a line on the form


def browser_of(request: Request) -> str:
    found = request.cookies.get(BROWSER_COOKIE, "")
    return found if BROWSER_ID.match(found) else secrets.token_urlsafe(32)


async def out_to(request: Request, gw: Gateway, sso_settings: Any, next_path: str,
                 admin: str | None = None) -> Response:
    """The browser sent to the identity provider, bound to it by its pre-sign-in cookie."""
    browser = browser_of(request)
    url = await sso.start(gw, sso_settings, browser, next_path, admin)
    response = RedirectResponse(url, status_code=303)
    set_cookie(response, gw, BROWSER_COOKIE, browser,
               max_age=int(sso.STATE_LIFETIME.total_seconds()))
    return response


async def start(request: Request) -> Response:
    gw = gateway_of(request)
    target = safe_next(request.query_params.get("next"))
    found = await sso.config(gw)
    try:
        if found.sso is None:
            raise GatewayError(found.problem or "Single sign-on is not set up", 404)
        await sign_in_limits.client_attempt(gw, client_key(
            request.client.host if request.client else None).address)
        return await out_to(request, gw, found.sso, target)
    except GatewayError as error:
        return await sign_in_form(request, gw, target, error.detail, error.status,
                                  headers=error.headers)


async def callback(request: Request) -> Response:
    """The identity provider's answer: a session (or, for a test, the Settings page with
    what arrived), or the sign-in page saying why not."""
    gw = gateway_of(request)
    params = {k: v[:4096] for k, v in request.query_params.items()}
    found = await sso.config(gw)
    session = await sessions.resume(gw, request.cookies.get(COOKIE))
    try:
        if found.sso is None:
            raise GatewayError(found.problem or "Single sign-on is not set up", 404)
        row = await sso.take(gw, params.get("state", ""), request.cookies.get(BROWSER_COOKIE))
    except GatewayError as error:
        return await sign_in_form(request, gw, "/console/", error.detail, error.status)
    try:
        result = await sso.finish(gw, found.sso, params, row,
                                  session.admin if session else None)
    except GatewayError as error:
        if row.admin is not None and session is not None:
            return await test_page(request, gw, session, {"error": error.detail})
        return await sign_in_form(request, gw, row.next, error.detail, error.status)
    if result.test and session is not None:
        return await test_page(request, gw, session, {
            "claims": result.claims, "role": result.role,
            "refusal": None if result.role else sso.no_role(found.sso, result.claims)})
    assert result.account is not None, "a sign-in that came through has its account"
    return await signed_in(gw, result.account.name, row.next)


async def test_page(request: Request, gw: Gateway, session: Session, test: dict) -> Response:
    request.state.session = session
    values = await settings_values(gw)
    return console_of(request).page(request, "settings.html", {**values, "test": test})


async def test_start(request: Request, gw: Gateway, session: Session) -> Response:
    """The Settings page's test sign-in: the same way out and back, for the admin's own
    session, signing nobody in."""
    if session.role != admins.ADMIN:
        raise Refused(f"The account '{session.admin}' is read only ({session.role}): it "
                      "cannot run a test sign-in")
    found = await sso.config(gw)
    if found.sso is None:
        raise GatewayError(found.problem or "Single sign-on is not set up", 409)
    return await out_to(request, gw, found.sso, "/console/settings", session.admin)


def form_values(form: Any) -> dict[str, Any]:
    """The Settings page's form as [console.sso] values (lists one value a line)."""
    values: dict[str, Any] = {}
    for key in SSO_KEYS:
        if key == "client_secret":
            continue  # never from the console: the environment holds it
        raw = str(form.get(key) or "").strip()
        if key in LISTS:
            values[key] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif key == "only":
            values[key] = raw == "on"
        elif raw:
            values[key] = raw
    return values


async def save(request: Request, gw: Gateway, session: Session) -> Response:
    form = await form_of(request)
    if form.get("client_secret"):
        raise GatewayError("The client secret is not taken from the console: set "
                           "IDENTITY_GATEWAY_SSO_CLIENT_SECRET in the gateway's environment "
                           "and restart it")
    if form.get("remove") == "on":
        await sso.remove(gw, admins.actor(session.admin))
        return redirect(gw, "/settings", "Single sign-on is off")
    values = form_values(form)
    try:
        await sso.save(gw, values, admins.actor(session.admin))
    except GatewayError as error:
        page = await settings_values(gw, values)
        return console_of(request).page(request, "settings.html", {
            **page, "sso_error": error.detail}, status=error.status)
    return redirect(gw, "/settings", "Single sign-on settings saved")


async def disable(request: Request, gw: Gateway, session: Session) -> Response:
    name = request.path_params["name"]
    disabled = request.url.path.endswith("/disable")
    if disabled and name == session.admin:
        raise GatewayError("You cannot disable the account you are signed in with")
    await admins.set_disabled(gw, name, disabled, admins.actor(session.admin))
    return redirect(gw, "/settings", f"{name} is {'disabled' if disabled else 'enabled'}")


def routes(page: Any) -> list[BaseRoute]:
    return [
        Route("/sso/start", start),
        Route("/sso/callback", callback),
        page("/settings/sso", save, ("POST",)),
        page("/settings/sso/test", test_start),
        page("/settings/accounts/{name}/disable", disable, ("POST",)),
        page("/settings/accounts/{name}/enable", disable, ("POST",)),
    ]
