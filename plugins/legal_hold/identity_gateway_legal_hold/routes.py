"""The admin routes: GET|POST /legal-holds, DELETE /legal-holds/{user_id}."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from gateway.plugin import Operation, created, documented, json_body, limit_param
from identity_gateway_legal_hold import holds


class HoldRequest(msgspec.Struct, kw_only=True):
    user: str
    matter: str
    placed_by: str | None = None


class Hold(msgspec.Struct, kw_only=True):
    user: str
    matter: str
    placed_by: str
    placed_at: str
    released_by: str | None
    released_at: str | None
    active: bool


class HoldPage(msgspec.Struct, kw_only=True):
    items: list[Hold]
    next_cursor: str | None


class HoldQuery(msgspec.Struct, kw_only=True):
    user: str | None = None
    all: str | None = None  # "1" or "true": released holds too
    cursor: str | None = None
    limit: int = 100


class ReleaseQuery(msgspec.Struct, kw_only=True):
    released_by: str | None = None


@documented(
    GET=Operation(summary="List legal holds (active ones, or all)", query=HoldQuery,
                  response=HoldPage),
    POST=Operation(summary="Put a user on hold", request=HoldRequest, response=Hold,
                   status=201))
async def collection(request: Request) -> Any:
    gw = request.app.state.gateway
    if request.method == "POST":
        return created(await holds.place(gw, await json_body(request)))
    params = request.query_params
    return await holds.list_holds(gw, user=params.get("user"),
                                  include_released=params.get("all") in ("1", "true"),
                                  cursor=params.get("cursor"), limit=limit_param(request))


@documented(DELETE=Operation(summary="Release a user's hold", query=ReleaseQuery,
                             response=Hold))
async def one(request: Request) -> Any:
    gw = request.app.state.gateway
    return await holds.release(gw, request.path_params["user_id"],
                               request.query_params.get("released_by"))


def routes() -> list[Route]:
    return [
        Route("/legal-holds", collection, methods=["GET", "POST"]),
        Route("/legal-holds/{user_id}", one, methods=["DELETE"]),
    ]
