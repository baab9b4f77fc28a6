"""What every admin route shares: admin authentication, JSON in and out, and refusals in
the admin shape ``{"detail", "status"}``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, overload

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.auth import authenticate_admin
from gateway.api.http import JsonResponse, admin_error_response, parse_json, read_body, read_json
from gateway.errors import GatewayError
from gateway.observability.middleware import request_info
from gateway.params import parse_int

if TYPE_CHECKING:
    from gateway.core import Gateway

Handler = Callable[[Request, "Gateway"], Awaitable[Any]]
T = TypeVar("T")


def admin_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Admin auth, then the handler; a dict or list it returns is answered as JSON (200), a
    Response as it is, and any GatewayError as {"detail", "status"}."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        gw: Gateway = request.app.state.gateway
        try:
            await authenticate_admin(request, gw)
            result = await handler(request, gw)
        except GatewayError as error:
            request_info(request.scope).error = error.detail
            return admin_error_response(error)
        if isinstance(result, Response):
            return result
        return JsonResponse(result)

    return endpoint


def plugin_endpoint(endpoint: Callable[[Request], Awaitable[Any]]) -> Callable[[Request],
                                                                             Awaitable[Response]]:
    """A plugin's admin route: it takes only the request (the gateway is on
    ``request.app.state.gateway``) and gets the same authentication and answers."""

    async def handler(request: Request, gw: Gateway) -> Any:
        return await endpoint(request)

    return admin_endpoint(wraps(endpoint)(handler))


@overload
async def json_body(request: Request, *, optional: bool = False) -> dict: ...


@overload
async def json_body(request: Request, into: type[T], *, optional: bool = False) -> T: ...


async def json_body(request: Request, into: type[T] | None = None, *,
                    optional: bool = False) -> Any:
    """The request's JSON object, read up to the gateway's body limit (``optional``: an
    empty body is {}); given `into` (a msgspec Struct), decoded into it, a body of another
    shape refused with what is wrong."""
    gw: Gateway = request.app.state.gateway
    if optional:
        raw = await read_body(request, gw.settings.max_body_bytes)
        body = parse_json(raw) if raw.strip() else {}
    else:
        body = await read_json(request, gw.settings.max_body_bytes)
    if into is not None:
        if not isinstance(body, dict):
            raise GatewayError("The body must be a JSON object")
        try:
            return msgspec.convert(body, into)
        except msgspec.ValidationError as exc:
            raise GatewayError(f"The body is not valid: {exc}") from None
    if not isinstance(body, dict):
        raise GatewayError("The body must be a JSON object")
    return body


def int_param(request: Request, name: str, default: int, high: int = 1000,
              low: int = 0) -> int:
    """An integer query parameter (`default` when absent or empty), clamped to [low, high];
    anything but ASCII digits (a leading '-' allowed) within 64 bits answers 400."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    return parse_int(raw, name, low=low, high=high, clamp=True)


def flag_param(request: Request, name: str) -> bool:
    """A yes/no query parameter: `?total=true` (also 1, yes); absent or false/0/no is no."""
    raw = (request.query_params.get(name) or "").lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise GatewayError(f"'{name}' is true or false, not '{raw}'")


def limit_param(request: Request, default: int = 100, high: int = 1000) -> int:
    """The page size a list asks for (`limit`), between 1 and `high`."""
    return int_param(request, "limit", default, high, low=1)
