"""/admin/v1/auth-failures and /admin/v1/providers/{id}/auth-failures: refused credentials,
counted per provider, reason and minute (gateway.accounts.auth_failures)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from gateway.accounts import auth_failures
from gateway.api.admin import schemas
from gateway.api.admin.endpoint import admin_endpoint, limit_param
from gateway.api.openapi import Operation, documented
from gateway.clock import parse_duration
from gateway.errors import GatewayError, NotFound
from gateway.store import providers as queries

if TYPE_CHECKING:
    from gateway.core import Gateway


def since_param(request: Request) -> str:
    since = request.query_params.get("since", "24h")
    try:
        parse_duration(since)
    except ValueError as exc:
        raise GatewayError(f"'since': {exc}") from None
    return since


@admin_endpoint
@documented(GET=Operation(summary="Refused credentials of every provider, per minute and "
                                  "reason", query=schemas.FailuresQuery,
                          response=schemas.Failures))
async def all_failures(request: Request, gw: Gateway) -> Any:
    """Every provider's, each row with its provider_id ('' the admin API, '-' an id that
    names no provider). ?since=24h (a duration), ?limit=1000."""
    return await auth_failures.listing(gw, None, since_param(request),
                                       limit_param(request, 1000, 10_000))


@admin_endpoint
@documented(GET=Operation(summary="A provider's refused credentials, per minute and reason",
                          query=schemas.FailuresQuery, response=schemas.Failures))
async def provider_failures(request: Request, gw: Gateway) -> Any:
    async with gw.store.read() as conn:
        provider = await queries.find_provider(conn, request.path_params["id"])
    if provider is None:
        raise NotFound(f"no provider '{request.path_params['id']}'")
    return await auth_failures.listing(gw, provider.id, since_param(request),
                                       limit_param(request, 1000, 10_000))
