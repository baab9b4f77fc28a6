"""OpenAPI 3.1 documents generated from the code: /admin/v1/openapi.json from the admin
routes and the Structs their handlers are marked with (``documented``), and
/scim/v2/{provider}/openapi.json from the app's SCIM schema registry, so that plugins'
schema extensions and routes appear in them.

An admin handler (the core's or a plugin's) says what each method takes and answers with
``@documented(GET=Operation(...), POST=Operation(...))``; a route without it is listed all
the same, with no schema for its bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from gateway import __version__
from gateway.accounts.custom_attributes import registry_of
from gateway.accounts.providers import KEEP, SETTING
from gateway.api.admin.endpoint import admin_endpoint
from gateway.api.admin.schemas import Error
from gateway.api.http import JsonResponse
from gateway.context import RequestContext
from gateway.scim.errors import ERROR_SCHEMA
from gateway.scim.schema import (
    BULK_REQUEST,
    BULK_RESPONSE,
    COMMON,
    LIST_RESPONSE,
    PATCH_OP,
    SEARCH_REQUEST,
    Attribute,
    Registry,
    ResourceType,
)

if TYPE_CHECKING:
    from gateway.core import Gateway

F = TypeVar("F", bound=Callable[..., Any])
VERSION = "3.1.0"
PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
SCIM_TYPES = ("application/scim+json", "application/json")
SCIM_USER = "scim:User"  # an Operation's request: this gateway's SCIM User, extensions and all
ADMIN_PREFIX, SCIM_PREFIX = "/admin/v1", "/scim/v2/{provider}"


class Operation(msgspec.Struct, frozen=True, kw_only=True):
    """What one method of a route takes and answers, for the OpenAPI document.

    ``request`` and ``response`` are msgspec types (Structs, lists of them, ...) of the JSON
    bodies; ``query`` is a Struct whose fields are the query parameters. A refusal is
    always documented: ``{"detail", "status"}``.
    """

    summary: str
    description: str = ""
    request: Any = None
    body_required: bool = True
    response: Any = None  # None: the success answer has no body
    status: int = 200
    media_types: tuple[str, ...] = ("application/json",)  # of the success answer
    query: Any = None


def documented(**operations: Operation) -> Callable[[F], F]:
    """Mark a route handler with what each of its methods does (GET=..., POST=...)."""

    def mark(handler: F) -> F:
        handler.openapi = operations  # type: ignore[attr-defined]  # read by this module
        return handler

    return mark


def operations_of(route: Route) -> dict[str, Operation]:
    return getattr(route.endpoint, "openapi", {})


def path_template(path: str) -> tuple[str, list[str]]:
    """A Starlette path as an OpenAPI path (convertors dropped) and its parameter names."""
    return PATH_PARAM.sub(r"{\1}", path), [m.group(1) for m in PATH_PARAM.finditer(path)]


def operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method.lower()}_{words}"


# The admin document ------------------------------------------------------------------------

def _types(operations: Iterable[Operation]) -> list[Any]:
    found: list[Any] = [Error]
    for op in operations:
        for kind in (op.request, op.response, op.query):
            if kind is not None and not isinstance(kind, (str, dict)) and kind not in found:
                found.append(kind)
    return found


def _query_parameters(component: dict) -> list[dict]:
    required = set(component.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required,
             "schema": {k: v for k, v in schema.items() if k != "description"},
             **({"description": schema["description"]} if "description" in schema else {})}
            for name, schema in component.get("properties", {}).items()]


def admin_document(gw: Gateway, routes: list[BaseRoute], prefix: str = ADMIN_PREFIX) -> dict:
    """The admin API: every route under `prefix`, documented or not."""
    listed = [(route, method) for route in routes if isinstance(route, Route)
              for method in sorted((route.methods or {"GET"}) - {"HEAD"})]
    described = [operations_of(route).get(method) for route, method in listed]
    kinds = _types(op for op in described if op is not None)
    refs, components = msgspec.json.schema_components(
        kinds, ref_template="#/components/schemas/{name}")
    schema_of = dict(zip(map(id, kinds), refs, strict=True))
    scim = scim_components(gw.registry)
    paths: dict[str, dict] = {}
    for (route, method), op in zip(listed, described, strict=True):
        path, params = path_template(prefix + route.path)
        entry: dict[str, Any] = {"operationId": operation_id(method, path),
                 "tags": [path.split("/")[3] if path.count("/") > 2 else "admin"],
                 "parameters": [{"name": p, "in": "path", "required": True,
                                 "schema": {"type": "string"}} for p in params]}
        if op is None:
            entry["summary"] = f"{method} {path} (not described by its plugin)"
            entry["responses"] = {"default": {"description": "The route's answer"}}
        else:
            described_op = _admin_operation(op, schema_of, components)
            entry["parameters"] += described_op.pop("parameters", [])
            entry.update(described_op)
        paths.setdefault(path, {})[method.lower()] = entry
    for kind in kinds:  # query Structs became parameters; they are not bodies
        if any(op is not None and op.query is kind for op in described):
            components.pop(kind.__name__, None)
    if any(op is not None and op.request == SCIM_USER for op in described):
        clash = set(scim) & set(components)
        if clash:  # a plugin's Struct named like a SCIM schema
            raise ValueError(f"admin body types named like SCIM schemas: {sorted(clash)}")
        components.update(scim)
    return {
        "openapi": VERSION,
        "info": {"title": "identity-gateway admin API", "version": __version__,
                 "description": "Providers, users, the sync log, events and webhooks, and "
                                "what plugins add. Every refusal is {\"detail\", "
                                "\"status\"}."},
        "servers": [{"url": gw.settings.public_url}],
        "security": [{"adminToken": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"adminToken": {
                "type": "http", "scheme": "bearer",
                "description": "The admin token (`identity-gateway admin-token rotate`)"}},
        },
    }


def _admin_operation(op: Operation, schema_of: dict[int, dict], components: dict) -> dict:
    out: dict[str, Any] = {"summary": op.summary}
    if op.description:
        out["description"] = op.description
    if op.query is not None:
        component = components[op.query.__name__]
        out["parameters"] = _query_parameters(component)
    if op.request is not None:
        if op.request == SCIM_USER:
            schema: dict = {"$ref": "#/components/schemas/User"}
        elif isinstance(op.request, dict):
            schema = op.request
        else:
            schema = schema_of[id(op.request)]
        out["requestBody"] = {"required": op.body_required,
                              "content": {"application/json": {"schema": schema}}}
    success: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        body = schema_of[id(op.response)] if not isinstance(op.response, dict) \
            else op.response
        success["content"] = {t: {"schema": body} for t in op.media_types}
    out["responses"] = {
        str(op.status): success,
        "default": {"description": "A refusal", "content": {
            "application/json": {"schema": schema_of[id(Error)]}}},
    }
    return out


# The SCIM document -------------------------------------------------------------------------

JSON_TYPES = {"string": "string", "boolean": "boolean", "decimal": "number",
              "integer": "integer", "dateTime": "string", "reference": "string",
              "binary": "string", "complex": "object"}


def attribute_schema(attr: Attribute, request: bool) -> dict | None:
    """An attribute's JSON Schema; None when it has no place in this direction (a readOnly
    attribute in a request, a never-returned one in a response)."""
    if (request and attr.mutability == "readOnly") or \
            (not request and attr.returned == "never"):
        return None
    schema: dict[str, Any] = {"type": JSON_TYPES.get(attr.type, "string")}
    if attr.description:
        schema["description"] = attr.description
    if attr.type == "dateTime":
        schema["format"] = "date-time"
    if attr.type == "binary":
        schema["contentEncoding"] = "base64"
    if attr.type == "complex":
        schema.update(_object(attr.sub_attributes, request, strict=request))
    if attr.mutability == "writeOnly":
        schema["writeOnly"] = True
    if attr.multi_valued:
        return {"type": "array", "items": schema,
                **({"description": schema.pop("description")} if "description" in schema
                   else {})}
    return schema


def _object(attributes: Iterable[Attribute], request: bool, strict: bool,
            required: bool = False) -> dict:
    properties = {}
    needed = []
    for attr in attributes:
        schema = attribute_schema(attr, request)
        if schema is not None:
            properties[attr.name] = schema
            if required and attr.required:
                needed.append(attr.name)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if needed:
        out["required"] = needed
    if strict:
        out["additionalProperties"] = False
    return out


# An extension no schema declares, as a provider's IdP sent it (gateway.scim.custom).
UNDECLARED = {"^[uU][rR][nN]:": {"type": "object"}}


def resource_schema(rtype: ResourceType, request: bool, undeclared: bool = False) -> dict:
    """A resource as a client sends it (request) or as the gateway answers (response,
    where ?attributes= may leave out anything but `schemas` and `id`). ``undeclared``: the
    requests may carry extensions nothing declares (the provider keeps them); answers may
    always hold some (kept before)."""
    urns = [s.id for s in rtype.schemas]
    schema = _object((*COMMON, *rtype.schema.attributes), request, strict=True,
                     required=request)
    schema["properties"] = {"schemas": {"type": "array", "items": {
        "enum": urns} if request and not undeclared else {"type": "string"}},
        **schema["properties"]}
    for extension, _required in rtype.extensions:
        schema["properties"][extension.id] = _object(
            extension.attributes, request,
            strict=not extension.custom or (request and not undeclared), required=request)
    if undeclared or not request:
        schema["patternProperties"] = UNDECLARED
    schema["description"] = rtype.description
    if not request:
        schema["required"] = ["schemas", "id"]
    return schema


def _list_response(items: dict) -> dict:
    return {"type": "object", "required": ["schemas", "totalResults"], "properties": {
        "schemas": {"type": "array", "items": {"const": LIST_RESPONSE}},
        "totalResults": {"type": "integer", "minimum": 0},
        "startIndex": {"type": "integer"}, "itemsPerPage": {"type": "integer"},
        "Resources": {"type": "array", "items": items}}}


def _loose(required: list[str], **properties: dict) -> dict:
    return {"type": "object", "required": required, "properties": properties}


STRINGS = {"type": "array", "items": {"type": "string"}}


def scim_components(registry: Registry, undeclared: bool = False) -> dict:
    """The SCIM schemas of this gateway (or of one provider: `registry` with its custom
    attributes, `undeclared` when it keeps attributes it has not declared): each resource
    type as sent and as answered, the protocol messages, errors and discovery."""
    out: dict[str, dict] = {}
    for rtype in registry.types.values():
        out[rtype.name] = resource_schema(rtype, request=True, undeclared=undeclared)
        out[f"{rtype.name}Resource"] = resource_schema(rtype, request=False)
        out[f"{rtype.name}List"] = _list_response(ref(f"{rtype.name}Resource"))
    out["AnyList"] = _list_response(
        {"anyOf": [ref(f"{t.name}Resource") for t in registry.types.values()]})
    out["ScimError"] = _loose(["schemas", "status"],
                              schemas={"type": "array", "items": {"const": ERROR_SCHEMA}},
                              status={"type": "string", "pattern": "^[1-5][0-9][0-9]$"},
                              scimType={"type": "string"}, detail={"type": "string"})
    out["PatchOp"] = {"type": "object", "required": ["schemas", "Operations"], "properties": {
        "schemas": {"type": "array", "items": {"const": PATCH_OP}},
        "Operations": {"type": "array", "minItems": 1, "items": _loose(
            ["op"], op={"enum": ["add", "remove", "replace", "Add", "Remove", "Replace"]},
            path={"type": "string"}, value={})}}}
    out["SearchRequest"] = _loose(
        ["schemas"], schemas={"type": "array", "items": {"const": SEARCH_REQUEST}},
        attributes=STRINGS, excludedAttributes=STRINGS, filter={"type": "string"},
        sortBy={"type": "string"}, sortOrder={"enum": ["ascending", "descending"]},
        startIndex={"type": "integer"}, count={"type": "integer"})
    out["BulkRequest"] = _loose(
        ["schemas", "Operations"], schemas={"type": "array", "items": {"const": BULK_REQUEST}},
        failOnErrors={"type": "integer"}, Operations={"type": "array", "items": _loose(
            ["method"], method={"enum": ["POST", "PUT", "PATCH", "DELETE"]},
            bulkId={"type": "string"}, version={"type": "string"}, path={"type": "string"},
            data={})})
    out["BulkResponse"] = _loose(
        ["schemas", "Operations"], schemas={"type": "array", "items": {"const": BULK_RESPONSE}},
        # An operation whose method was not one of the four is answered without one.
        Operations={"type": "array", "items": _loose(
            ["status"], method={"type": "string"}, bulkId={"type": "string"},
            version={"type": "string"}, location={"type": "string"},
            status={"type": "string"}, response={})})
    out["ServiceProviderConfig"] = _loose(
        ["schemas", "patch", "bulk", "filter", "changePassword", "sort", "etag",
         "authenticationSchemes"], schemas=STRINGS, patch={"type": "object"},
        bulk={"type": "object"}, filter={"type": "object"}, changePassword={"type": "object"},
        sort={"type": "object"}, etag={"type": "object"},
        authenticationSchemes={"type": "array", "items": {"type": "object"}})
    out["SchemaDefinition"] = _loose(["id", "attributes"], id={"type": "string"},
                                     name={"type": "string"},
                                     attributes={"type": "array", "items": {"type": "object"}})
    out["ResourceTypeDefinition"] = _loose(["name", "endpoint", "schema"],
                                           name={"type": "string"},
                                           endpoint={"type": "string"},
                                           schema={"type": "string"})
    out["SchemaList"] = _list_response(ref("SchemaDefinition"))
    out["ResourceTypeList"] = _list_response(ref("ResourceTypeDefinition"))
    return out


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _scim_body(name: str) -> dict:
    return {"required": True, "content": {t: {"schema": ref(name)} for t in SCIM_TYPES}}


def _answer(name: str | None, description: str) -> dict:
    out: dict[str, Any] = {"description": description}
    if name is not None:
        out["content"] = {"application/scim+json": {"schema": ref(name)}}
    return out


def _param(name: str, where: str = "query", schema: dict | None = None,
           required: bool = False, description: str = "") -> dict:
    out = {"name": name, "in": where, "required": required,
           "schema": schema or {"type": "string"}}
    if description:
        out["description"] = description
    return out


PROJECTION = [_param("attributes", description="comma-separated attributes to return"),
              _param("excludedAttributes", description="comma-separated attributes to leave "
                                                       "out")]
LISTING = [_param("filter", description='e.g. userName eq "bjensen@example.com"'),
           _param("startIndex", schema={"type": "integer"}),
           _param("count", schema={"type": "integer"}),
           _param("sortBy"), _param("sortOrder", schema={"enum": ["ascending", "descending"]}),
           *PROJECTION]
ID_PARAM = _param("id", "path", required=True)


def _op(summary: str, responses: dict, parameters: list | None = None,
        body: dict | None = None) -> dict:
    out: dict[str, Any] = {"summary": summary, "parameters": parameters or []}
    if body is not None:
        out["requestBody"] = body
    out["responses"] = {**responses, "default": _answer("ScimError", "A SCIM error")}
    return out


def _resource_paths(rtype: ResourceType) -> dict[str, dict]:
    name, endpoint = rtype.name, rtype.endpoint
    single, answered, many = name, f"{name}Resource", f"{name}List"
    if_match = _param("If-Match", "header", description="the version the change is for")
    patched = {"200": _answer(answered, f"The {name} as changed")}
    if name == "Group":
        patched["204"] = _answer(None, "Changed (without ?attributes=)")
    return {
        endpoint: {
            "get": _op(f"List or filter {name}s", {"200": _answer(many, "A page")}, LISTING),
            "post": _op(f"Create a {name}", {"201": _answer(answered, "Created")},
                        PROJECTION, _scim_body(single)),
        },
        f"{endpoint}/{{id}}": {
            "get": _op(f"Read a {name}", {"200": _answer(answered, f"The {name}"),
                                          "304": _answer(None, "Not modified")},
                       [ID_PARAM, *PROJECTION, _param("If-None-Match", "header")]),
            "put": _op(f"Replace a {name}", {"200": _answer(answered, "Replaced")},
                       [ID_PARAM, *PROJECTION, if_match], _scim_body(single)),
            "patch": _op(f"Change a {name}", patched, [ID_PARAM, *PROJECTION, if_match],
                         _scim_body("PatchOp")),
            "delete": _op(f"Delete a {name}", {"204": _answer(None, "Deleted")},
                          [ID_PARAM, if_match]),
        },
        f"{endpoint}/.search": {
            "post": _op(f"Search {name}s", {"200": _answer(many, "A page")},
                        body=_scim_body("SearchRequest")),
        },
    }


def scim_document(gw: Gateway, provider: Any, routes: list[BaseRoute],
                  registry: Registry | None = None) -> dict:
    """The SCIM API of one provider's base URL, from its schema registry (the app's, with
    the provider's custom attributes); `routes` are the plugins' routes under it (an OAuth
    token endpoint, ...)."""
    registry = registry or gw.registry
    keeps = provider.settings.get(SETTING, KEEP) == KEEP
    paths: dict[str, dict] = {}
    for rtype in registry.types.values():
        paths.update(_resource_paths(rtype))
    paths["/.search"] = {"post": _op("Search every resource type",
                                     {"200": _answer("AnyList", "A page")},
                                     body=_scim_body("SearchRequest"))}
    paths["/Bulk"] = {"post": _op("Several writes in one request",
                                  {"200": _answer("BulkResponse", "Each operation's outcome")},
                                  body=_scim_body("BulkRequest"))}
    paths["/ServiceProviderConfig"] = {"get": _op(
        "What this service provider supports",
        {"200": _answer("ServiceProviderConfig", "The configuration")})}
    paths["/Schemas"] = {"get": _op("The schemas", {"200": _answer("SchemaList", "All")})}
    paths["/Schemas/{id}"] = {"get": _op("One schema", {"200": _answer(
        "SchemaDefinition", "The schema")}, [ID_PARAM])}
    paths["/ResourceTypes"] = {"get": _op("The resource types", {"200": _answer(
        "ResourceTypeList", "All")})}
    paths["/ResourceTypes/{id}"] = {"get": _op("One resource type", {"200": _answer(
        "ResourceTypeDefinition", "The resource type")}, [ID_PARAM])}
    for route in routes:
        if isinstance(route, Route):
            path, params = path_template(route.path)
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                op = operations_of(route).get(method)
                paths.setdefault(path, {})[method.lower()] = {
                    "summary": op.summary if op else f"{method} {path} (a plugin's route)",
                    "security": [],  # the plugin authenticates the request itself
                    "responses": {"default": {"description": "The plugin's answer"}},
                    "parameters": [_param(p, "path", required=True) for p in params]}
    for path, ops in paths.items():
        for method, op in ops.items():
            op.setdefault("operationId", operation_id(method, path))
    scheme = "basic" if provider.auth_kind == "basic" else "bearer"
    return {
        "openapi": VERSION,
        "info": {"title": f"identity-gateway SCIM 2.0: {provider.name}", "version": __version__,
                 "description": "RFC 7643/7644 as this gateway serves it, with the schema "
                                "extensions its plugins add."},
        "servers": [{"url": gw.base_url(provider.id)}],
        "security": [{scheme: []}],
        "paths": paths,
        "components": {
            "schemas": scim_components(registry, undeclared=keeps),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "The provider's bearer token (or an OAuth access "
                                          "token)"},
                "basic": {"type": "http", "scheme": "basic",
                          "description": "The provider's username and password"},
            },
        },
    }


# The endpoints -------------------------------------------------------------------------------

def mounted(app: Any, prefix: str) -> list[BaseRoute]:
    """The routes of the app's Mount at `prefix`."""
    for route in app.routes:
        if isinstance(route, Mount) and route.path == prefix:
            return list(route.routes)
    return []


@admin_endpoint
@documented(GET=Operation(summary="This document (OpenAPI 3.1)", response={"type": "object"}))
async def admin_openapi(request: Request, gw: Gateway) -> Any:
    return admin_document(gw, mounted(request.app, ADMIN_PREFIX))


async def scim_openapi(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    """The provider's SCIM API (OpenAPI 3.1), with its own base URL and credential kind."""
    routes = mounted(request.app, SCIM_PREFIX)
    registry = await registry_of(gw, ctx.provider)
    return JsonResponse(scim_document(gw, ctx.provider, routes, registry))
