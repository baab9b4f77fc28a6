"""Admin routes under /admin/v1 (the gateway applies admin authentication; a ScimError
becomes a {"detail", "status"} answer)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.scim.errors import ScimError

from identity_gateway_org_mapping import catalogue, mappings, placement, store


async def body_of(request: Request) -> dict:
    gw = request.app.state.gateway
    raw = await request.body()
    if len(raw) > gw.settings.max_body_bytes:
        raise ScimError(413, f"The request body is over the {gw.settings.max_body_bytes}-byte "
                             "limit")
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ScimError(400, "The body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a JSON object")
    return body


def limit_of(request: Request, default: int = 100) -> int:
    raw = request.query_params.get("limit", "")
    if not raw:
        return default
    if not raw.isdigit():
        raise ScimError(400, "'limit' must be a positive integer")
    return max(1, min(int(raw), 1000))


def created(view: dict) -> JSONResponse:
    return JSONResponse(view, status_code=201)


async def organizations(request: Request) -> Any:
    gw = request.app.state.gateway
    if request.method == "POST":
        body = await body_of(request)
        async with gw.store.write() as conn:
            return created(await catalogue.create_from_body(gw, conn, body))
    async with gw.store.read() as conn:
        return await catalogue.list_orgs(conn, request.query_params.get("cursor", ""),
                                         limit_of(request))


async def organization(request: Request) -> Any:
    gw = request.app.state.gateway
    oid = request.path_params["id"]
    if request.method == "PATCH":
        body = await body_of(request)
        async with gw.store.write() as conn:
            return await catalogue.update_org(gw, conn, oid, body)
    async with gw.store.read() as conn:
        row = await store.org_by_id(conn, oid)
        if row is None:
            raise ScimError(404, f"no organization '{oid}'")
        return await catalogue.org_view(conn, row)


async def roles(request: Request) -> Any:
    gw = request.app.state.gateway
    if request.method == "POST":
        body = await body_of(request)
        async with gw.store.write() as conn:
            return created(await catalogue.add_role(gw, conn, body))
    async with gw.store.read() as conn:
        return {"items": list((await catalogue.roles(gw, conn)).values()),
                "next_cursor": None}


async def org_mapping(request: Request) -> Any:
    gw = request.app.state.gateway
    pid = request.path_params["id"]
    if request.method == "PUT":
        body = await body_of(request)
        async with gw.store.write() as conn:
            return await mappings.put_org_mapping(gw, conn, pid, body)
    async with gw.store.read() as conn:
        return await mappings.org_view(conn, await mappings.require(conn, pid))


async def role_mapping(request: Request) -> Any:
    gw = request.app.state.gateway
    pid = request.path_params["id"]
    if request.method == "PUT":
        body = await body_of(request)
        async with gw.store.write() as conn:
            return await mappings.put_role_mapping(gw, conn, pid, body)
    async with gw.store.read() as conn:
        return await mappings.role_view(conn, await mappings.require(conn, pid))


async def unmapped_groups(request: Request) -> Any:
    gw = request.app.state.gateway
    async with gw.store.read() as conn:
        return await mappings.unmapped_page(conn, request.path_params["id"],
                                            request.query_params.get("cursor", ""),
                                            limit_of(request))


async def apply_mappings(request: Request) -> Any:
    pid = request.path_params["id"]
    report = await placement.apply_all(request.app.state.gateway, pid)
    if report is None:
        raise ScimError(404, f"no provider '{pid}'")
    return report


def routes() -> list[Route]:
    return [
        Route("/organizations", organizations, methods=["GET", "POST"]),
        Route("/organizations/{id}", organization, methods=["GET", "PATCH"]),
        Route("/roles", roles, methods=["GET", "POST"]),
        Route("/providers/{id}/org-mapping", org_mapping, methods=["GET", "PUT"]),
        Route("/providers/{id}/role-mapping", role_mapping, methods=["GET", "PUT"]),
        Route("/providers/{id}/role-mapping/unmapped-groups", unmapped_groups,
              methods=["GET"]),
        Route("/providers/{id}/apply-mappings", apply_mappings, methods=["POST"]),
    ]
