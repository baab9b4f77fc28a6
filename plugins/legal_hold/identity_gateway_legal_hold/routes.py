"""The admin routes: GET|POST /legal-holds, DELETE /legal-holds/{user_id}."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from gateway.plugin import created, json_body, limit_param
from identity_gateway_legal_hold import holds


async def collection(request: Request) -> Any:
    gw = request.app.state.gateway
    if request.method == "POST":
        return created(await holds.place(gw, await json_body(request)))
    params = request.query_params
    return await holds.list_holds(gw, user=params.get("user"),
                                  include_released=params.get("all") in ("1", "true"),
                                  cursor=params.get("cursor"), limit=limit_param(request))


async def one(request: Request) -> Any:
    gw = request.app.state.gateway
    return await holds.release(gw, request.path_params["user_id"],
                               request.query_params.get("released_by"))


def routes() -> list[Route]:
    return [
        Route("/legal-holds", collection, methods=["GET", "POST"]),
        Route("/legal-holds/{user_id}", one, methods=["DELETE"]),
    ]
