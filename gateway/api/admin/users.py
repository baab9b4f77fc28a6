"""/admin/v1/users: list and show users, create local users, admin actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from gateway.accounts import actions, users
from gateway.api.admin import schemas
from gateway.api.admin.endpoint import admin_endpoint, flag_param, json_body, limit_param
from gateway.api.http import created
from gateway.api.openapi import SCIM_USER, Operation, documented
from gateway.errors import GatewayError, NotFound
from gateway.provisioning.local import create_local

if TYPE_CHECKING:
    from gateway.core import Gateway


@admin_endpoint
@documented(
    GET=Operation(summary="List users (admin views), filtered", query=schemas.UserQuery,
                  response=schemas.UserViewPage),
    POST=Operation(summary="Create a local user from a SCIM User body", request=SCIM_USER,
                   response=schemas.UserView, status=201))
async def user_list(request: Request, gw: Gateway) -> Any:
    if request.method == "POST":
        return created(await create_local(gw, await json_body(request)))
    params = request.query_params
    blocked = params.get("blocked")
    if blocked not in (None, "", "true", "false"):
        raise GatewayError("'blocked' must be true or false")
    return await users.list_users(
        gw, provider=params.get("provider"), state=params.get("state"), q=params.get("q"),
        cursor=params.get("cursor"), limit=limit_param(request),
        total=flag_param(request, "total"),
        blocked=None if not blocked else blocked == "true")


@admin_endpoint
@documented(GET=Operation(summary="Show a user (the admin view)", response=schemas.UserView))
async def user_one(request: Request, gw: Gateway) -> Any:
    view = await users.user_view(gw, request.path_params["id"])
    if view is None:
        raise NotFound(f"no user '{request.path_params['id']}'")
    return view


@admin_endpoint
@documented(POST=Operation(summary="block, unblock, deactivate or reactivate a user now",
                           response=schemas.UserView))
async def user_action(request: Request, gw: Gateway) -> Any:
    action = request.path_params["action"]
    if action not in actions.ACTIONS:
        raise NotFound(f"no action '{action}' (one of {', '.join(actions.ACTIONS)})")
    view = await actions.admin_action(gw, request.path_params["id"], action)
    if view is None:
        raise NotFound(f"no user '{request.path_params['id']}'")
    return view
