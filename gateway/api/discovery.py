"""/ServiceProviderConfig, /Schemas and /ResourceTypes, generated from gateway.scim.schema
and the provider's custom attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts.custom_attributes import registry_of
from gateway.api.http import ScimResponse
from gateway.context import RequestContext
from gateway.scim.errors import ScimError
from gateway.scim.schema import LIST_RESPONSE, SPC_SCHEMA

if TYPE_CHECKING:
    from gateway.core import Gateway

DOCS = "https://datatracker.ietf.org/doc/html/rfc7644"
AUTH_SCHEMES = {
    "bearer": {"type": "oauthbearertoken", "name": "OAuth Bearer Token",
               "description": "The provider's bearer token in the Authorization header"},
    "basic": {"type": "httpbasic", "name": "HTTP Basic",
              "description": "The provider's API credentials (username and password)"},
}


def list_response(items: list[dict]) -> dict:
    return {"schemas": [LIST_RESPONSE], "totalResults": len(items), "startIndex": 1,
            "itemsPerPage": len(items), "Resources": items}


async def service_provider_config(request: Request, gw: Gateway,
                                  ctx: RequestContext) -> Response:
    settings = gw.settings
    scheme = AUTH_SCHEMES.get(ctx.provider.auth_kind, {
        "type": "oauthbearertoken", "name": ctx.provider.auth_kind,
        "description": f"{ctx.provider.auth_kind} credentials"})
    bulk = getattr(request.app.state, "bulk_supported", False)
    return ScimResponse({
        "schemas": [SPC_SCHEMA],
        "documentationUri": DOCS,
        "patch": {"supported": True},
        "bulk": {"supported": bulk, "maxOperations": settings.bulk_max_operations if bulk else 0,
                 "maxPayloadSize": settings.bulk_max_payload if bulk else 0},
        "filter": {"supported": True, "maxResults": settings.max_page_size},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [{**scheme, "primary": True}],
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": f"{gw.base_url(ctx.provider.id)}/ServiceProviderConfig"},
    })


async def schemas(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    base = gw.base_url(ctx.provider.id)
    registry = await registry_of(gw, ctx.provider)
    return ScimResponse(list_response([registry.schema_to_scim(s, base)
                                       for s in registry.schemas()]))


async def schema(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    urn = request.path_params["urn"]
    registry = await registry_of(gw, ctx.provider)
    for found in registry.schemas():
        if found.id.lower() == urn.lower():
            return ScimResponse(registry.schema_to_scim(found, gw.base_url(ctx.provider.id)))
    raise ScimError(404, f"No schema {urn}")


async def resource_types(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    base = gw.base_url(ctx.provider.id)
    registry = await registry_of(gw, ctx.provider)
    return ScimResponse(list_response([t.to_scim(base) for t in registry.types.values()]))


async def resource_type(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    name = request.path_params["name"]
    for found in (await registry_of(gw, ctx.provider)).types.values():
        if found.name.lower() == name.lower():
            return ScimResponse(found.to_scim(gw.base_url(ctx.provider.id)))
    raise ScimError(404, f"No resource type {name}")
