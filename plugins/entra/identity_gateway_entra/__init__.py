"""Microsoft Entra ID: its credentials (bearer token, OAuth client credentials) and its SCIM
dialect, for providers whose plugin is ``entra``. Setup guide: docs/idp/entra.md.

Every hook below that takes a provider is scoped (docs/plugins.md): the gateway calls it for
Entra's providers only, so none of them checks ``provider.plugin`` itself.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from gateway.plugin import (
    ConsoleItem,
    CredentialRow,
    Gateway,
    IssuedCredential,
    Principal,
    ProviderRow,
    hookimpl,
)
from identity_gateway_entra import console, dialect, oauth

NAME = "entra"


@hookimpl
def credential_kinds() -> list[str]:
    return [oauth.CLIENT_KIND]


@hookimpl
def issue_credential(provider: ProviderRow, kind: str, secret: str, username: str | None,
                     gateway: Gateway) -> IssuedCredential | None:
    if kind != oauth.CLIENT_KIND:
        return None  # OAuth clients are issued to Entra providers only
    return oauth.issue_client(secret, username, f"{gateway.base_url(provider.id)}/oauth/token")


@hookimpl
def authenticate(request: Request, provider: ProviderRow,
                 credentials: list[CredentialRow]) -> Principal | None:
    if provider.auth_kind != oauth.CLIENT_KIND:
        return None
    return oauth.authenticate(request, credentials)


@hookimpl
def provider_routes() -> list[BaseRoute]:
    return [Route("/oauth/token", oauth.token_endpoint, methods=["POST"])]


@hookimpl
async def normalize_request(provider: ProviderRow, resource_type: str, operation: str,
                            body: Any, gateway: Gateway) -> Any:
    # The provider's own schema: its custom boolean attributes get Entra's "True" fixed too.
    rtype = await gateway.resource_type(provider, resource_type)
    return dialect.normalize(resource_type, operation, body, rtype)


@hookimpl
def provider_defaults(provider: ProviderRow) -> dict[str, Any]:
    # Entra finds a group by `displayName eq` and fails the update when two match
    # (MultipleEntries): its providers keep group names unique unless the admin says not.
    return {"unique_group_names": True}


@hookimpl
def request_probes(provider: ProviderRow) -> list[tuple[str, str]]:
    return console.PROBES


@hookimpl
def console_pages() -> list[ConsoleItem]:
    return console.console_items(NAME)
