"""/admin/v1/providers/{id}/custom-attributes: a provider's custom attributes (list with the
undeclared ones its IdP sent, declare, change, remove) and the declaration of an undeclared
one with the type its values suggest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts import custom_attributes
from gateway.api.admin import schemas
from gateway.api.admin.endpoint import admin_endpoint, json_body
from gateway.api.http import created
from gateway.api.openapi import Operation, documented

if TYPE_CHECKING:
    from gateway.core import Gateway


@admin_endpoint
@documented(
    GET=Operation(summary="A provider's custom attributes, and the undeclared attributes its "
                          "IdP sent (how often, an example, the declaration they suggest)",
                  response=schemas.CustomAttributes),
    POST=Operation(summary="Declare a custom attribute: it appears in the provider's "
                           "/Schemas and /ResourceTypes, is checked by type, filterable and "
                           "patchable", request=schemas.CustomAttribute,
                   response=schemas.CustomAttributeView, status=201))
async def attribute_list(request: Request, gw: Gateway) -> Any:
    pid = request.path_params["id"]
    if request.method == "GET":
        return await custom_attributes.listing(gw, pid)
    body = await json_body(request)
    decl = custom_attributes.declaration(body)
    return created(await custom_attributes.declare(gw, pid, decl))


@admin_endpoint
@documented(
    PATCH=Operation(summary="Change a custom attribute's type, multi_valued, case_exact, "
                            "description or sub_attributes",
                    request=schemas.CustomAttributeChange,
                    response=schemas.CustomAttributeView),
    DELETE=Operation(summary="Remove a custom attribute (users keep the values stored under "
                             "it, now undeclared)", status=204))
async def attribute_one(request: Request, gw: Gateway) -> Any:
    pid, path = request.path_params["id"], request.path_params["path"]
    if request.method == "DELETE":
        await custom_attributes.remove(gw, pid, path)
        return Response(status_code=204)
    # A plain object: a field that cannot change is refused saying why (change()).
    return await custom_attributes.change(gw, pid, path, await json_body(request))


@admin_endpoint
@documented(POST=Operation(summary="Declare an undeclared attribute the provider's IdP sent, "
                                   "with the type its values suggest (or the one given)",
                           request=schemas.DeclareSeen, response=schemas.CustomAttributeView,
                           status=201, body_required=False))
async def declare_seen(request: Request, gw: Gateway) -> Any:
    body = await json_body(request, schemas.DeclareSeen, optional=True)
    return created(await custom_attributes.declare_seen(
        gw, request.path_params["id"], request.path_params["path"], body.type))
