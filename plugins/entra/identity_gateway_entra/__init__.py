"""Microsoft Entra ID: its credentials (bearer token, OAuth client credentials) and its SCIM
dialect, for providers whose plugin is ``entra``. Setup guide: docs/idp/entra.md."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from gateway.plugin import hookimpl
from identity_gateway_entra import console, dialect, oauth

NAME = "entra"


def ours(provider: Any) -> bool:
    return getattr(provider, "plugin", None) == NAME


@hookimpl
def credential_kinds() -> list:
    return [oauth.CLIENT_KIND]


@hookimpl
def issue_credential(provider: Any, kind: str, secret: str, username: str | None,
                     gateway: Any) -> Any:
    if kind != oauth.CLIENT_KIND or not ours(provider):
        return None  # OAuth clients are issued to Entra providers only
    return oauth.issue_client(secret, username, f"{gateway.base_url(provider.id)}/oauth/token")


@hookimpl
def authenticate(request: Any, provider: Any, credentials: list) -> Any:
    if not ours(provider) or provider.auth_kind != oauth.CLIENT_KIND:
        return None
    return oauth.authenticate(request, credentials)


@hookimpl
def provider_routes() -> list:
    return [Route("/oauth/token", oauth.token_endpoint, methods=["POST"])]


@hookimpl
async def normalize_request(provider: Any, resource_type: str, operation: str, body: Any,
                            gateway: Any) -> Any:
    if not ours(provider):
        return None
    # The provider's own schema: its custom boolean attributes get Entra's "True" fixed too.
    rtype = await gateway.resource_type(provider, resource_type)
    return dialect.normalize(resource_type, operation, body, rtype)


@hookimpl
def provider_defaults(provider: Any) -> dict | None:
    # Entra finds a group by `displayName eq` and fails the update when two match
    # (MultipleEntries): its providers keep group names unique unless the admin says not.
    return {"unique_group_names": True} if ours(provider) else None


@hookimpl
def request_probes(provider: Any) -> list | None:
    return console.PROBES if ours(provider) else None


@hookimpl
def console_pages() -> list:
    return console.console_items(NAME)
