"""The SCIM routes under /scim/v2/{provider}: parse -> hooks -> store -> render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from gateway.accounts import custom_attributes
from gateway.api import discovery, openapi
from gateway.api.auth import authenticate_provider
from gateway.api.http import ScimResponse, error_response, read_json
from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.events.synclog_write import log_failure
from gateway.observability.middleware import request_info
from gateway.provisioning import bulk, reads, root_search, writes
from gateway.scim.errors import ScimError
from gateway.scim.project import project
from gateway.scim.schema import ResourceType
from gateway.store.base import StoreUnavailable

if TYPE_CHECKING:
    from gateway.core import Gateway

Handler = Callable[[Request, "Gateway", RequestContext], Awaitable[Response]]


def scim_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate the provider, then run the handler; any ScimError becomes its body."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        gw: Gateway = request.app.state.gateway
        info = request_info(request.scope)
        ctx = None
        try:
            provider = await authenticate_provider(request, gw)
            ctx = RequestContext(provider=provider, actor=f"provider:{provider.id}",
                                 request_id=info.request_id, method=request.method,
                                 path=request.scope["path"],
                                 traceparent=info.trace.traceparent
                                 if request.method in REFUSED_WRITES else None)
            return await handler(request, gw, ctx)
        except GatewayError as error:
            info.error = error.detail
            if ctx is not None and request.method in REFUSED_WRITES and \
                    not ctx.refusal_logged and not isinstance(error, StoreUnavailable):
                await log_early_refusal(gw, ctx, error)
            return error_response(error)

    return endpoint


REFUSED_WRITES = {"POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}


async def log_early_refusal(gw: Gateway, ctx: RequestContext, error: GatewayError) -> None:
    """A write refused before it reached provisioning (unreadable body, too large, wrong
    content type) is in the sync log too, so the admin sees every failed attempt."""
    await log_failure(gw, ctx, operation=REFUSED_WRITES[ctx.method or "POST"],
                             resource_type=None, resource_id=None, status=error.status,
                             detail=error.detail)


FIXED = ("serviceproviderconfig", "schemas", "resourcetypes", "bulk", ".search")


async def resource_type(request: Request, gw: Gateway, ctx: RequestContext) -> ResourceType:
    """The resource type the path names, as the provider sees it (its custom attributes)."""
    kind = request.path_params["kind"]
    if kind.lower() in FIXED:  # reached only by a method their own routes refuse
        raise ScimError(405, f"{request.method} is not allowed on /{kind}")
    registry = await custom_attributes.registry_of(gw, ctx.provider)
    rtype = registry.by_endpoint("/" + kind)
    if rtype is None:
        raise ScimError(404, f"No resource type at /{request.path_params['kind']}")
    return rtype


def with_etag(body: dict, status: int = 200, headers: dict | None = None) -> ScimResponse:
    headers = dict(headers or {})
    version = body.get("meta", {}).get("version")
    if version:
        headers["ETag"] = version
    return ScimResponse(body, status_code=status, headers=headers)


Shape = tuple[list | None, list | None]


def lowered_params(request: Request) -> dict[str, str]:
    """The query's parameters by lower-case name; most requests have none, and parsing an
    empty query still costs a QueryParams and its walk."""
    if not request.scope.get("query_string"):
        return {}
    return {k.lower(): v for k, v in request.query_params.items()}


def write_projection(request: Request, rtype: ResourceType) -> Shape:
    """?attributes= / ?excludedAttributes= of a write, checked before anything is written."""
    params = lowered_params(request)
    return reads.projection(rtype, params.get("attributes"), params.get("excludedattributes"))


def shaped(body: dict, rtype: ResourceType, shape: Shape) -> dict:
    attributes, excluded = shape
    if attributes is None and excluded is None:
        return body
    return project(body, rtype, attributes, excluded)


@scim_endpoint
async def list_or_create(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    rtype = await resource_type(request, gw, ctx)
    if request.method == "POST":
        shape = write_projection(request, rtype)
        body = await read_json(request, gw.settings.max_body_bytes)
        created = await writes.create(gw, ctx, rtype, body)
        return with_etag(shaped(created, rtype, shape), 201,
                         {"Location": created["meta"]["location"],
                          "ETag": created["meta"]["version"]})
    query = reads.query_from_params(request.query_params)
    return ScimResponse(await reads.search(gw, ctx.provider.id, rtype, query))


@scim_endpoint
async def search(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    rtype = await resource_type(request, gw, ctx)
    query = reads.query_from_search(await read_json(request, gw.settings.max_body_bytes))
    return ScimResponse(await reads.search(gw, ctx.provider.id, rtype, query))


@scim_endpoint
async def search_root(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    query = reads.query_from_search(await read_json(request, gw.settings.max_body_bytes))
    registry = await custom_attributes.registry_of(gw, ctx.provider)
    return ScimResponse(await root_search.search_root(gw, ctx.provider.id, query, registry))


@scim_endpoint
async def bulk_request(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    body = await read_json(request, gw.settings.bulk_max_payload)
    return ScimResponse(await bulk.run(gw, ctx, body))


@scim_endpoint
async def one(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    rtype = await resource_type(request, gw, ctx)
    rid = request.path_params["id"]
    if_match = request.headers.get("if-match")
    if request.method == "GET":
        params = lowered_params(request)
        body = await reads.get_resource(gw, ctx.provider.id, rtype, rid,
                                        params.get("attributes"),
                                        params.get("excludedattributes"))
        none_match = request.headers.get("if-none-match")
        if none_match and body["meta"]["version"] in {t.strip() for t in none_match.split(",")}:
            return Response(status_code=304, headers={"ETag": body["meta"]["version"]})
        return with_etag(body)
    if request.method == "DELETE":
        await writes.delete(gw, ctx, rtype, rid, if_match)
        return Response(status_code=204)
    shape = write_projection(request, rtype)
    body = await read_json(request, gw.settings.max_body_bytes)
    if request.method == "PUT":
        replaced = await writes.replace(gw, ctx, rtype, rid, body, if_match)
        return with_etag(shaped(replaced, rtype, shape),
                         headers={"ETag": replaced["meta"]["version"]})
    result = await writes.patch(gw, ctx, rtype, rid, body, if_match)
    params = lowered_params(request)
    if rtype.name == "Group" and not params.get("attributes"):
        return Response(status_code=204, headers={"ETag": result["meta"]["version"]})
    version = result["meta"]["version"]
    if params.get("attributes") or params.get("excludedattributes"):
        result = await reads.get_resource(gw, ctx.provider.id, rtype, rid,
                                          params.get("attributes"),
                                          params.get("excludedattributes"))
    return with_etag(result, headers={"ETag": version})


@scim_endpoint
async def not_implemented(request: Request, gw: Gateway, ctx: RequestContext) -> Response:
    raise ScimError(501, f"{request.url.path.rsplit('/', 1)[-1]} is not supported by this "
                         "service provider")


WRITES = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
ONE = frozenset({"GET", "PUT", "PATCH", "DELETE"})
LIST = frozenset({"GET", "POST"})
GET = frozenset({"GET"})
POST = frozenset({"POST"})


def fixed_routes() -> dict[str, tuple[frozenset, Callable]]:
    return {
        "ServiceProviderConfig": (GET, scim_endpoint(discovery.service_provider_config)),
        "Schemas": (GET, scim_endpoint(discovery.schemas)),
        "ResourceTypes": (GET, scim_endpoint(discovery.resource_types)),
        "Me": (WRITES, not_implemented),
        ".search": (POST, search_root),
        "Bulk": (POST, bulk_request),
        "openapi.json": (GET, scim_endpoint(openapi.scim_openapi)),
    }


def nested_routes() -> dict[str, tuple[frozenset, Callable, str]]:
    return {
        "Schemas": (GET, scim_endpoint(discovery.schema), "urn"),
        "ResourceTypes": (GET, scim_endpoint(discovery.resource_type), "name"),
    }


class Dispatcher:
    """Picks the handler for a path under /scim/v2/{provider} by its segments: a dict
    lookup instead of matching each route pattern in turn, on every request."""

    def __init__(self) -> None:
        self.fixed = fixed_routes()
        self.nested = nested_routes()

    def route(self, rest: str, params: dict) -> tuple[frozenset, Callable, str]:
        """The methods, the handler and the route template (below the base URL, the
        resource type's name left as it came: see `template`)."""
        head, _, tail = rest.partition("/")
        if not tail:
            found = self.fixed.get(head)
            if found is not None:
                return *found, "/" + head
            params["kind"] = head
            return LIST, list_or_create, "/{kind}"
        if head in self.nested:
            methods, handler, name = self.nested[head]
            params[name] = tail
            return methods, handler, f"/{head}/{{{name}}}"
        params["kind"] = head
        if tail == ".search":
            return POST, search, "/{kind}/.search"
        params["id"] = tail
        return ONE, one, "/{kind}/{id}"

    async def handle(self, request: Request) -> Response:
        methods, handler, route = self.route(request.path_params["rest"],
                                             request.scope["path_params"])
        method = "GET" if request.method == "HEAD" else request.method
        describe(request, route, method)
        if method not in methods:
            error = ScimError(405, f"{request.method} is not allowed on {request.url.path}")
            request_info(request.scope).error = error.detail
            return error_response(error, {"Allow": ", ".join(sorted(methods))})
        return await handler(request)


OPERATIONS = {"GET": "read", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}
FIXED_OPERATIONS = {"/.search": "search", "/Bulk": "bulk", "/Me": "other"}


def describe(request: Request, route: str, method: str) -> None:
    """The bounded route template, operation and resource type of a SCIM request, for its
    log line and metrics: a resource type's canonical endpoint (`/Users`), or `{kind}` for
    a name no resource type has."""
    info = request_info(request.scope)
    if route.startswith("/{kind}"):
        gw: Gateway = request.app.state.gateway
        rtype = gw.registry.by_endpoint("/" + request.path_params["kind"])
        if rtype is not None:
            route = rtype.endpoint + route[len("/{kind}"):]
            info.resource_type = rtype.name
        if route.endswith("/.search"):
            info.operation = "search"
        elif route.endswith("}"):
            info.operation = OPERATIONS.get(method, "other")
        else:
            info.operation = "create" if method == "POST" else "list"
    else:
        info.operation = FIXED_OPERATIONS.get(route, "discovery")
    info.route = route


def route_path(scope: Scope) -> str:
    """The path below the Mount this route sits in: the request path without the
    ``root_path`` that Starlette's Mount sets to the part it matched."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("", "/"):
        return path[len(root):]
    return path


class ScimRoute(BaseRoute):
    """Everything under /scim/v2/{provider}/ that no plugin route took, handed to the
    Dispatcher: one prefix test instead of a pattern, and the response sent directly
    (the Dispatcher turns every SCIM error into its response itself)."""

    def __init__(self) -> None:
        self.dispatcher = Dispatcher()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = route_path(scope) if scope["type"] == "http" else ""
        if not path.startswith("/"):
            return Match.NONE, {}
        return Match.FULL, {"path_params": {**scope.get("path_params", {}), "rest": path[1:]}}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.dispatcher.handle(Request(scope, receive, send))
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)


def routes() -> list[BaseRoute]:
    return [ScimRoute()]
