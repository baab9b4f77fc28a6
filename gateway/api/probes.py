"""What an operator's tools call: /healthz (the process answers), /readyz (this replica can
work: see gateway.observability.health) and /metrics (Prometheus, with the admin token or
the read-only `metrics_token`)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts.credentials import bearer_token, verify_secret
from gateway.api.auth import authenticate_admin
from gateway.api.http import JsonResponse, admin_error_response
from gateway.errors import GatewayError
from gateway.observability import health
from gateway.observability.middleware import request_info
from gateway.store.base import Migration

if TYPE_CHECKING:
    from gateway.core import Gateway

HASHED = "sha256$"


async def healthz(request: Request) -> Response:
    return JsonResponse({"status": "ok"})


def readyz(migrations: Callable[[Gateway], Awaitable[list[Migration]]]
           ) -> Callable[[Request], Awaitable[Response]]:
    """The readiness endpoint, given how to list the migrations the database should have."""

    async def endpoint(request: Request) -> Response:
        gw: Gateway = request.app.state.gateway
        reasons = await health.problems(gw, await migrations(gw))
        if reasons:
            return JsonResponse({"status": "not ready", "reasons": reasons}, status_code=503)
        return JsonResponse({"status": "ready"})

    return endpoint


def metrics_token_matches(token: str, configured: str) -> bool:
    """The configured token as given, or as its `sha256$<hex>` hash (compared in constant
    time either way)."""
    if configured.startswith(HASHED):
        return verify_secret(token, configured)
    return hmac.compare_digest(token.encode(), configured.encode())


async def metrics(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        token = bearer_token(request)
        configured = gw.settings.metrics_token
        if not (token and configured and metrics_token_matches(token, configured)):
            await authenticate_admin(request, gw)
        await gw.metrics.refresh(gw)
    except GatewayError as error:
        request_info(request.scope).error = error.detail
        return admin_error_response(error)
    body, content_type = gw.metrics.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)
