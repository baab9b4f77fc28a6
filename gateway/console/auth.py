"""Who is using the console: sign-in and sign-out, the session cookie, and the checks every
console request passes (a live session; for a change, the CSRF token and an account that
may change things), plus the security headers of every console answer."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.accounts import admins, sessions, sso
from gateway.accounts.sessions import Session
from gateway.accounts.sign_in_limits import DEVICE_LIFETIME
from gateway.accounts.throttle import client_key
from gateway.api.http import read_body
from gateway.console.render import FLASH, console_of, gateway_of
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.core import Gateway

COOKIE = "ig_console"
PRE_COOKIE = "ig_console_pre"  # the sign-in form's own CSRF token (no session yet)
DEVICE_COOKIE = "ig_console_device"  # this browser signed in before (sign_in_limits)
SAFE = ("GET", "HEAD")
MAX_FORM_FIELDS = 2000
MAX_FORM_PART = 1024 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
Handler = Callable[[Request, "Gateway", Session], Awaitable[Response]]


class Refused(GatewayError):
    """A console request refused before its handler runs (403)."""

    status = 403


def secure(gw: Gateway) -> bool:
    return gw.settings.public_url.startswith("https://")


def set_cookie(response: Response, gw: Gateway, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/console", httponly=True,
                        samesite="lax", secure=secure(gw))


def flash(response: Response, gw: Gateway, message: str) -> Response:
    """A one-line notice shown on the next page (a confirmation after a change)."""
    set_cookie(response, gw, FLASH, quote(message[:300]), max_age=60)
    return response


def redirect(gw: Gateway, path: str, message: str | None = None) -> Response:
    """303 to a console page (after a change), with a notice when given."""
    response = RedirectResponse("/console" + path, status_code=303)
    return flash(response, gw, message) if message else response


async def form_of(request: Request) -> FormData:
    """The submitted form, read once (within limits) and kept for the handler. The bytes
    come through the gateway's one body reader, so a sign-in form cannot be a way to make
    the gateway hold an unbounded body."""
    await read_body(request, gateway_of(request).settings.max_body_bytes)
    try:
        return await request.form(max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_PART)
    except HTTPException as exc:  # a malformed multipart body: a console page, not plain text
        raise GatewayError(f"The form could not be read: {exc.detail}") from None


def error_page(request: Request, error: GatewayError) -> Response:
    page = console_of(request).page(request, "error.html", {"error": error},
                                    status=error.status)
    page.headers.update(error.headers)  # a 503's Retry-After
    return page


def console_endpoint(handler: Handler, write_access: bool = True) -> Callable[[Request],
                                                                          Awaitable[Response]]:
    """The checks every console page passes, then the handler. A GatewayError it raises is
    answered as a console page with the error's status."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        gw = gateway_of(request)
        session = await sessions.resume(gw, request.cookies.get(COOKIE))
        if session is None:
            if request.method in SAFE:
                target = request.url.path + (f"?{request.url.query}" if request.url.query
                                             else "")
                return RedirectResponse(f"/console/sign-in?next={quote(target)}",
                                        status_code=303)
            return error_page(request, Refused(
                "Your session has ended; sign in again and repeat the change", 401))
        request.state.session = session
        try:
            if request.method not in SAFE:
                await check_change(request, session, write_access)
            return await handler(request, gw, session)
        except GatewayError as error:
            return error_page(request, error)

    return endpoint


async def check_change(request: Request, session: Session, write_access: bool) -> None:
    token = request.headers.get("x-csrf-token")
    if token is None:
        token = str((await form_of(request)).get("csrf_token") or "")
    if not sessions.csrf_matches(session, token):
        raise Refused("This form has expired or did not come from the console (no valid "
                      "CSRF token); reload the page and try again")
    if write_access and session.role != admins.ADMIN:
        raise Refused(f"The account '{session.admin}' is read only ({session.role}): it "
                      "cannot change anything")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if not target or not target.startswith("/console") or target.startswith("//"):
        return "/console/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/console/"


async def sign_in_page(request: Request) -> Response:
    gw = gateway_of(request)
    if request.method == "POST":
        return await sign_in(request, gw)
    return await sign_in_form(request, gw, safe_next(request.query_params.get("next")))


async def sign_in_form(request: Request, gw: Gateway, target: str, error: str | None = None,
                       status: int = 200, username: str = "",
                       headers: dict[str, str] | None = None) -> Response:
    """The sign-in page (with a new pre-sign-in CSRF token), and its single sign-on button
    when that is set up: "unavailable" when its settings or its issuer fail, so that the
    password form is what works meanwhile."""
    found = await sso.config(gw)
    token = secrets.token_urlsafe(32)
    response = console_of(request).page(request, "sign_in.html", {
        "pre_csrf": token, "next": target, "error": error, "username": username[:64],
        "sso": found.sso.label if found.sso else ("single sign-on" if found.problem else None),
        "sso_down": sso.unavailable(gw, found), "sso_only": sso.password_refused(found, "")},
        status=status)
    response.headers.update(headers or {})
    set_cookie(response, gw, PRE_COOKIE, token)
    return response


async def sign_in(request: Request, gw: Gateway) -> Response:
    form = await form_of(request)
    name, password = str(form.get("username") or ""), str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    expected = request.cookies.get(PRE_COOKIE, "")
    given = str(form.get("csrf_token") or "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        return await sign_in_form(request, gw, target, "The sign-in form expired; try again",
                                  403, name)
    found = await sso.config(gw)
    refused = sso.password_refused(found, name)
    if refused:
        return await sign_in_form(request, gw, target, refused, 403, name)
    client = client_key(request.client.host if request.client else None).address
    try:
        account, device = await admins.sign_in(gw, name, password, client,
                                                request.cookies.get(DEVICE_COOKIE))
    except GatewayError as error:
        return await sign_in_form(request, gw, target, error.detail, error.status, name,
                                  error.headers)
    await sso.log_break_glass(gw, found, account.name)
    moved = await signed_in(gw, account.name, target)
    set_cookie(moved, gw, DEVICE_COOKIE, device, max_age=int(DEVICE_LIFETIME.total_seconds()))
    return moved


async def signed_in(gw: Gateway, name: str, target: str) -> Response:
    """A new session for the account, and the browser sent where it was going."""
    session_id, _ = await sessions.start(gw, name)
    moved = RedirectResponse(target, status_code=303)
    set_cookie(moved, gw, COOKIE, session_id)
    moved.delete_cookie(PRE_COOKIE, path="/console")
    return moved


async def sign_out(request: Request, gw: Gateway, session: Session) -> Response:
    await sessions.end(gw, request.cookies.get(COOKIE, ""))
    response: Response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return flash(response, gw, "Signed out")


class SecurityHeaders:
    """Adds the console's headers to every answer under /console, and answers the router's
    own refusals (no such page, wrong method) as console pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name for name, _ in headers}
                headers += [h for h in HEADERS if h[0] not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except HTTPException as exc:
            request = Request(scope, receive)
            error = GatewayError(exc.detail or "Not found", exc.status_code)
            await error_page(request, error)(scope, receive, send_with_headers)


def plain_error(error: GatewayError) -> HTMLResponse:
    """An error page without templates, for a failure outside the console's own router."""
    return HTMLResponse(
        "<!doctype html><title>Error</title><p>The console could not answer: "
        f"{error.status}.</p>", status_code=error.status,
        headers={**{name.decode(): value.decode() for name, value in HEADERS},
                 **error.headers})
