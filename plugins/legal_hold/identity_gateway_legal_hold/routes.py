"""The admin routes: GET|POST /legal-holds, DELETE /legal-holds/{user_id}."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from gateway.scim.errors import ScimError
from identity_gateway_legal_hold import holds

MAX_BODY = 16 * 1024


async def collection(request: Request) -> Any:
    gw = request.app.state.gateway
    if request.method == "POST":
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise ScimError(413, f"A legal hold body is at most {MAX_BODY} bytes")
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise ScimError(400, "The body is not valid JSON") from None
        return {**await holds.place(gw, body), "_created": True}
    params = request.query_params
    try:
        limit = int(params.get("limit") or 100)
    except ValueError:
        raise ScimError(400, "'limit' must be an integer") from None
    return await holds.list_holds(gw, user=params.get("user"),
                                  include_released=params.get("all") in ("1", "true"),
                                  cursor=params.get("cursor"), limit=limit)


async def one(request: Request) -> Any:
    gw = request.app.state.gateway
    return await holds.release(gw, request.path_params["user_id"],
                               request.query_params.get("released_by"))


def routes() -> list[Route]:
    return [
        Route("/legal-holds", collection, methods=["GET", "POST"]),
        Route("/legal-holds/{user_id}", one, methods=["DELETE"]),
    ]
