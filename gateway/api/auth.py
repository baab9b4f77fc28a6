"""Who is calling: the provider named by the URL and its credential, or the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from gateway.accounts.credentials import ADMIN, bearer_token, match_bearer
from gateway.observability.middleware import request_info
from gateway.scim.errors import ScimError
from gateway.store import providers as queries
from gateway.store.base import ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway

CHALLENGES = {"basic": 'Basic realm="identity-gateway"'}
DEFAULT_CHALLENGE = 'Bearer realm="identity-gateway"'


def unauthorized(detail: str, kind: str | None = None) -> ScimError:
    return ScimError(401, detail, headers={
        "WWW-Authenticate": CHALLENGES.get(kind or "", DEFAULT_CHALLENGE)})


async def authenticate_provider(request: Request, gw: Gateway) -> ProviderRow:
    """The provider of /scim/v2/{provider}/..., if the request's credential is one of its own.

    An unknown provider and a wrong credential get the same answer, so nothing is revealed.
    """
    pid = request.path_params.get("provider", "")
    async with gw.store.lookup() as conn:
        provider, credentials = await queries.provider_with_credentials(
            conn, pid, gw.clock.stamp())
    if provider is None:
        raise unauthorized("Authentication required: send this provider's credential")
    request_info(request.scope).provider_id = provider.id  # it exists: its metrics count
    principal = await gw.hooks.call("authenticate", request=request, provider=provider,
                                    credentials=credentials, gateway=gw)
    if principal is None or principal.provider_id != provider.id:
        raise unauthorized("Authentication required: send this provider's credential",
                           provider.auth_kind)
    request.state.principal = principal
    return provider


async def authenticate_admin(request: Request, gw: Gateway) -> None:
    token = bearer_token(request)
    if token is not None:
        async with gw.store.lookup() as conn:
            credentials = await queries.live_credentials(conn, ADMIN, gw.clock.stamp())
        if match_bearer(token, credentials, {"admin"}) is not None:
            return
    raise unauthorized("Admin authentication required: send the admin token as a Bearer token")
