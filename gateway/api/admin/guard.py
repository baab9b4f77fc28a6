"""/admin/v1/providers/{id}/deactivation-guard: the provider's mass-deactivation guard (show,
change, release or discard what it holds, list what it holds)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from gateway.accounts import guard
from gateway.api.admin import schemas
from gateway.api.admin.endpoint import admin_endpoint, json_body, limit_param
from gateway.api.openapi import Operation, documented

if TYPE_CHECKING:
    from gateway.core import Gateway


@admin_endpoint
@documented(
    GET=Operation(summary="A provider's mass-deactivation guard", response=schemas.Guard),
    PATCH=Operation(summary="Change the guard's threshold or window, or turn it off or on",
                    request=schemas.GuardChange, response=schemas.Guard))
async def guard_one(request: Request, gw: Gateway) -> Any:
    pid = request.path_params["id"]
    if request.method == "PATCH":
        return await guard.configure(gw, pid, await json_body(request))
    async with gw.store.read() as conn:
        return await guard.view(gw, conn, (await guard.provider_or_404(conn, pid)).id)


@admin_endpoint
@documented(POST=Operation(summary="Release the held deactivations: each proceeds with the "
                                   "provider's delay", response=schemas.GuardOutcome))
async def guard_release(request: Request, gw: Gateway) -> Any:
    return await guard.release(gw, request.path_params["id"])


@admin_endpoint
@documented(POST=Operation(summary="Discard the held deactivations: the users are active and "
                                   "unblocked again", response=schemas.GuardOutcome))
async def guard_discard(request: Request, gw: Gateway) -> Any:
    return await guard.discard(gw, request.path_params["id"])


@admin_endpoint
@documented(GET=Operation(summary="The users whose deactivation the guard holds",
                          query=schemas.PageQuery, response=schemas.Held))
async def guard_held(request: Request, gw: Gateway) -> Any:
    return await guard.held_list(gw, request.path_params["id"],
                                 request.query_params.get("cursor"), limit_param(request))
