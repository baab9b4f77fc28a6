"""Admin routes under /admin/v1 (the gateway applies admin authentication; a ScimError
becomes a {"detail", "status"} answer)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from gateway.plugin import Operation, ScimError, created, documented, json_body, limit_param
from identity_gateway_org_mapping import catalogue, mappings, placement, store

OBJECT = {"type": "object"}


@documented(
    GET=Operation(summary="List organizations", response=OBJECT),
    POST=Operation(summary="Add an organization", request=OBJECT, response=OBJECT,
                   status=201))
async def organizations(request: Request) -> Any:
    gw = request.app.state.gateway
    if request.method == "POST":
        body = await json_body(request)
        async with gw.store.write() as conn:
            return created(await catalogue.create_from_body(gw, conn, body))
    async with gw.store.read() as conn:
        return await catalogue.list_orgs(conn, request.query_params.get("cursor", ""),
                                         limit_param(request))


@documented(GET=Operation(summary="Show an organization", response=OBJECT),
            PATCH=Operation(summary="Change an organization", request=OBJECT,
                            response=OBJECT))
async def organization(request: Request) -> Any:
    gw = request.app.state.gateway
    oid = request.path_params["id"]
    if request.method == "PATCH":
        body = await json_body(request)
        async with gw.store.write() as conn:
            return await catalogue.update_org(gw, conn, oid, body)
    async with gw.store.read() as conn:
        row = await store.org_by_id(conn, oid)
        if row is None:
            raise ScimError(404, f"no organization '{oid}'")
        return await catalogue.org_view(conn, row)


def catalogue_route(kind: catalogue.Kind) -> Any:
    """GET lists the catalogue (config and admin entries), POST adds an entry."""

    async def endpoint(request: Request) -> Any:
        gw = request.app.state.gateway
        if request.method == "POST":
            body = await json_body(request)
            async with gw.store.write() as conn:
                return created(await catalogue.add_entry(gw, conn, kind, body))
        async with gw.store.read() as conn:
            return {"items": list((await catalogue.entries(gw, conn, kind)).values()),
                    "next_cursor": None}

    endpoint.__name__ = kind.plural
    return documented(
        GET=Operation(summary=f"List {kind.plural}", response=OBJECT),
        POST=Operation(summary=f"Add a {kind.singular}", request=OBJECT, response=OBJECT,
                       status=201))(endpoint)


def mapping_route(view: Any, put: Any, what: str) -> Any:
    """GET shows a provider's mapping (`view(conn, mapping)`), PUT replaces it
    (`put(gw, conn, provider_id, body)`); `what` names it in the API documents."""

    async def endpoint(request: Request) -> Any:
        gw = request.app.state.gateway
        pid = request.path_params["id"]
        if request.method == "PUT":
            body = await json_body(request)
            async with gw.store.write() as conn:
                return await put(gw, conn, pid, body)
        async with gw.store.read() as conn:
            return await view(conn, await mappings.require(conn, pid))

    endpoint.__name__ = put.__name__.removeprefix("put_")
    return documented(
        GET=Operation(summary=f"A provider's {what} mapping", response=OBJECT),
        PUT=Operation(summary=f"Set a provider's {what} mapping", request=OBJECT,
                      response=OBJECT))(endpoint)


@documented(GET=Operation(summary="The provider's groups no role mapping names",
                          response=OBJECT))
async def unmapped_groups(request: Request) -> Any:
    gw = request.app.state.gateway
    async with gw.store.read() as conn:
        return await mappings.unmapped_page(conn, request.path_params["id"],
                                            request.query_params.get("cursor", ""),
                                            limit_param(request))


@documented(POST=Operation(summary="Place every user of the provider again by its mappings",
                           response=OBJECT))
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
        Route("/roles", catalogue_route(catalogue.ROLES), methods=["GET", "POST"]),
        Route("/watchlists", catalogue_route(catalogue.WATCHLISTS), methods=["GET", "POST"]),
        Route("/providers/{id}/org-mapping",
              mapping_route(mappings.org_view, mappings.put_org_mapping, "organization"),
              methods=["GET", "PUT"]),
        Route("/providers/{id}/role-mapping",
              mapping_route(mappings.role_view, mappings.put_role_mapping, "role"),
              methods=["GET", "PUT"]),
        Route("/providers/{id}/role-mapping/unmapped-groups", unmapped_groups,
              methods=["GET"]),
        Route("/providers/{id}/watchlist-mapping",
              mapping_route(mappings.watchlist_view, mappings.put_watchlist_mapping,
                            "watchlist"),
              methods=["GET", "PUT"]),
        Route("/providers/{id}/apply-mappings", apply_mappings, methods=["POST"]),
    ]
