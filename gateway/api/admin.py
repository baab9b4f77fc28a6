"""The admin API under /admin/v1 (JSON, admin bearer token). The CLI calls the same code."""

from __future__ import annotations

from functools import wraps
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import providers, users
from gateway.api.auth import authenticate_admin
from gateway.api.http import JsonResponse, read_json
from gateway.core import Gateway
from gateway.scim.errors import ScimError
from gateway.store import providers as provider_queries

Handler = Callable[[Request, Gateway], Awaitable[Any]]


class AdminError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def admin_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Admin auth, then the handler; its result is JSON, errors are {"detail", "status"}."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        gw: Gateway = request.app.state.gateway
        try:
            await authenticate_admin(request, gw)
            result = await handler(request, gw)
        except ScimError as error:
            headers = getattr(error, "headers", None)
            return JsonResponse({"detail": error.detail, "status": error.status,
                                 **({"scimType": error.scim_type} if error.scim_type else {})},
                                status_code=error.status, headers=headers)
        except providers.ProviderError as error:
            return JsonResponse({"detail": str(error), "status": error.status},
                                status_code=error.status)
        except users.ActionRefused as error:
            return JsonResponse({"detail": str(error), "status": error.status},
                                status_code=error.status)
        except AdminError as error:
            return JsonResponse({"detail": error.detail, "status": error.status},
                                status_code=error.status)
        if isinstance(result, Response):
            return result
        status = 201 if request.method == "POST" and isinstance(result, dict) \
            and result.pop("_created", False) else 200
        return JsonResponse(result, status_code=status)

    return endpoint


async def json_body(request: Request, gw: Gateway) -> dict:
    body = await read_json(request, gw.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise AdminError(400, "The body must be a JSON object")
    return body


def int_param(request: Request, name: str, default: int, high: int = 1000) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AdminError(400, f"'{name}' must be an integer") from None
    return max(0, min(value, high))


# Providers ------------------------------------------------------------------------------

@admin_endpoint
async def provider_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        body = await json_body(request, gw)
        settings = dict(body.get("settings") or {})
        if "deactivation_delay" in body:
            settings["deactivation_delay"] = body["deactivation_delay"]
        provider, shown = await providers.create_provider(
            gw, str(body.get("name", "")), str(body.get("auth", "bearer")),
            body.get("plugin"), settings)
        view = providers.provider_view(gw, provider)
        view["credentials"] = {label: value for label, value in shown}
        return {**view, "_created": True}
    async with gw.store.read() as conn:
        found = await provider_queries.list_providers(conn)
    return {"items": [providers.provider_view(gw, p) for p in found], "next_cursor": None}


@admin_endpoint
async def provider_one(request: Request, gw: Gateway) -> Any:
    pid = request.path_params["id"]
    if request.method == "GET":
        async with gw.store.read() as conn:
            found = await provider_queries.find_provider(conn, pid)
        if found is None:
            raise AdminError(404, f"no provider '{pid}'")
        return providers.provider_view(gw, found)
    if request.method == "DELETE":
        await providers.delete_provider(gw, pid)
        return Response(status_code=204)
    changed = await providers.update_provider(gw, pid, await json_body(request, gw))
    return providers.provider_view(gw, changed)


@admin_endpoint
async def provider_rotate(request: Request, gw: Gateway) -> Any:
    provider, shown = await providers.rotate_provider(gw, request.path_params["id"])
    view = providers.provider_view(gw, provider)
    view["credentials"] = {label: value for label, value in shown}
    return view


# Users ----------------------------------------------------------------------------------

@admin_endpoint
async def user_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        return {**await users.create_local(gw, await json_body(request, gw)), "_created": True}
    params = request.query_params
    return await users.list_users(
        gw, provider=params.get("provider"), state=params.get("state"), q=params.get("q"),
        cursor=params.get("cursor"), limit=int_param(request, "limit", 100))


@admin_endpoint
async def user_one(request: Request, gw: Gateway) -> Any:
    view = await users.user_view(gw, request.path_params["id"])
    if view is None:
        raise AdminError(404, f"no user '{request.path_params['id']}'")
    return view


@admin_endpoint
async def user_action(request: Request, gw: Gateway) -> Any:
    action = request.path_params["action"]
    if action not in users.ACTIONS:
        raise AdminError(404, f"no action '{action}' (one of {', '.join(users.ACTIONS)})")
    view = await users.admin_action(gw, request.path_params["id"], action)
    if view is None:
        raise AdminError(404, f"no user '{request.path_params['id']}'")
    return view


# Sync log and events ---------------------------------------------------------------------

@admin_endpoint
async def sync_log(request: Request, gw: Gateway) -> Any:
    from gateway import synclog

    params = request.query_params
    try:
        return await synclog.query(
            gw, provider=params.get("provider"), user=params.get("user"),
            operation=params.get("operation"), outcome=params.get("outcome"),
            since=params.get("since"), until=params.get("until"), cursor=params.get("cursor"),
            limit=int_param(request, "limit", 100))
    except synclog.FilterError as exc:
        raise AdminError(400, str(exc)) from None


@admin_endpoint
async def event_feed(request: Request, gw: Gateway) -> Any:
    from gateway import synclog

    return await synclog.events_after(gw, int_param(request, "after", 0, 2**62),
                                      int_param(request, "limit", 100))


def routes(extra: list[Route]) -> list[Route]:
    from gateway.api import events_admin

    return [
        Route("/providers", provider_list, methods=["GET", "POST"]),
        Route("/providers/{id}", provider_one, methods=["GET", "PATCH", "DELETE"]),
        Route("/providers/{id}/rotate", provider_rotate, methods=["POST"]),
        Route("/users", user_list, methods=["GET", "POST"]),
        Route("/users/{id}", user_one, methods=["GET"]),
        Route("/users/{id}/{action}", user_action, methods=["POST"]),
        *events_admin.routes(),
        Route("/sync-log", sync_log, methods=["GET"]),
        Route("/events", event_feed, methods=["GET"]),
        *[Route(r.path, admin_endpoint(_plain(r.endpoint)), methods=list(r.methods or []))
          for r in extra],
    ]


def _plain(endpoint: Callable[[Request], Awaitable[Any]]) -> Handler:
    """Plugin routes take only the request; the gateway is on request.app.state."""

    async def handler(request: Request, gw: Gateway) -> Any:
        return await endpoint(request)

    return handler
