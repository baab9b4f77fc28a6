"""SCIM reads, free of HTTP: one resource, and filtered, sorted, paged lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from gateway.params import INT64_MAX, ParamError, parse_int
from gateway.provisioning.render import render
from gateway.scim.ast import AttrPath, Compare
from gateway.scim.errors import ScimError
from gateway.scim.filter import parse_filter
from gateway.scim.path import parse_attr_list
from gateway.scim.project import project, wants_members
from gateway.scim.schema import LIST_RESPONSE, ResourceType
from gateway.store import resources
from gateway.store.base import Conn, ResourceRow
from gateway.store.filter_sql import Dialect, compile_filter, compile_sort, dialect_of

if TYPE_CHECKING:
    from gateway.core import Gateway


class ListQuery(msgspec.Struct, kw_only=True):
    filter: str | None = None
    sort_by: str | None = None
    sort_order: str = "ascending"
    start_index: int = 1
    count: int | None = None
    attributes: str | None = None
    excluded: str | None = None


# startIndex and count are 64-bit integers, as the stores' own are: a larger one means
# nothing (no list has that many entries) and no store can bind it. Within that, RFC 7644
# 3.4.2.4 reads a startIndex below 1 as 1 and a negative count as 0.
INDEX_LIMIT = INT64_MAX


def _int(name: str, value: Any) -> int:
    """An integer query parameter: a JSON integer, a JSON number without a fraction (1.0),
    or text the request parser takes (ASCII digits, a leading '-'); anything else, or out of
    the 64-bit range, answers 400."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ScimError(400, f"'{name}' must be an integer", "invalidValue")
    try:
        return parse_int(value, name, low=-INDEX_LIMIT, high=INDEX_LIMIT)
    except ParamError as error:
        raise ScimError(400, error.detail, "invalidValue") from None


def _text(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ScimError(400, f"'{name}' must be a string", "invalidValue")
    return value


def _joined(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def query_from_params(params: Any) -> ListQuery:
    """From a GET query string (names are case-insensitive, as clients vary)."""
    lowered = {k.lower(): v for k, v in params.items()}
    return query_from_dict(lowered)


def query_from_search(body: Any) -> ListQuery:
    """From a POST .search SearchRequest body."""
    if not isinstance(body, dict):
        raise ScimError(400, "A SearchRequest must be a JSON object", "invalidSyntax")
    return query_from_dict({k.lower(): v for k, v in body.items()})


def query_from_dict(values: dict) -> ListQuery:
    sort_order = (_text("sortOrder", values.get("sortorder")) or "ascending").lower()
    if sort_order not in ("ascending", "descending"):
        raise ScimError(400, "sortOrder must be 'ascending' or 'descending'", "invalidValue")
    return ListQuery(
        filter=values.get("filter") or None,
        sort_by=_text("sortBy", values.get("sortby")),
        sort_order=sort_order,
        start_index=max(1, _int("startIndex", values.get("startindex", 1))),
        count=None if values.get("count") in (None, "")
        else max(0, _int("count", values["count"])),
        attributes=_joined(values.get("attributes")) or None,
        excluded=_joined(values.get("excludedattributes")) or None,
    )


def projection(rtype: ResourceType, attributes: str | None,
               excluded: str | None) -> tuple[list[AttrPath] | None, list[AttrPath] | None]:
    return (
        parse_attr_list(attributes, rtype) if attributes else None,
        parse_attr_list(excluded, rtype) if excluded else None,
    )


def dialect(gw: Gateway) -> Dialect:
    return dialect_of(gw.store.dialect)


async def multi_values(conn: Conn, rtype: ResourceType, ids: list[str]) -> dict[str, list]:
    if rtype.name == "Group":
        return await resources.members_of(conn, ids)
    return await resources.groups_of(conn, ids)


async def render_rows(gw: Gateway, conn: Conn, pid: str, rtype: ResourceType,
                      rows: list[ResourceRow], attributes: str | None,
                      excluded: str | None, multi: dict[str, list] | None = None
                      ) -> list[dict]:
    """The rows as SCIM resources; ``multi``: each row's members or groups when they were
    read already (else they are read here, when the projection keeps them)."""
    attrs, excl = projection(rtype, attributes, excluded)
    if multi is None:
        multi = {}
        if rows and wants_members(rtype, attrs, excl):
            multi = await multi_values(conn, rtype, [row.id for row in rows])
    base = gw.base_url(pid)
    return [project(render(row, rtype, base, multi.get(row.id)), rtype, attrs, excl)
            for row in rows]


async def get_resource(gw: Gateway, pid: str, rtype: ResourceType, rid: str,
                       attributes: str | None = None, excluded: str | None = None) -> dict:
    attrs, excl = projection(rtype, attributes, excluded)  # a bad list answers 400 first
    # A group's member list can be long: read it off the event loop.
    wanted = wants_members(rtype, attrs, excl)
    heavy = rtype.name == "Group" and wanted
    async with (gw.store.read() if heavy else gw.store.lookup()) as conn:
        multi = None
        if rtype.name == "User" and wanted:  # the user and its groups in one statement
            found = await resources.get_user(conn, pid, rid)
            row, multi = (found[0], {rid: found[1]}) if found else (None, None)
        else:
            row = await resources.get(conn, pid, rtype.name, rid)
        if row is None:
            raise ScimError(404, f"{rtype.name} {rid} not found")
        return (await render_rows(gw, conn, pid, rtype, [row], attributes, excluded,
                                  multi))[0]


def order_by(gw: Gateway, rtype: ResourceType, query: ListQuery) -> str:
    direction = "DESC" if query.sort_order == "descending" else "ASC"
    if not query.sort_by:
        return "r.created, r.id"
    try:
        path = parse_attr_list(query.sort_by, rtype)
    except ScimError as exc:
        raise ScimError(400, f"sortBy: {exc.detail}", "invalidValue") from None
    if len(path) != 1:
        raise ScimError(400, "sortBy names exactly one attribute", "invalidValue")
    expr = compile_sort(path[0], rtype, dialect(gw))
    # Rows without the attribute sort last in ascending order (RFC 7644 3.4.2.3).
    return f"({expr}) IS NULL {direction}, {expr} {direction}, r.id {direction}"


POINT_ATTRIBUTES = {("User", "id"), ("User", "userName"), ("User", "externalId"),
                    ("Group", "id"), ("Group", "externalId")}


def filter_sql(gw: Gateway, expr: Any, rtype: ResourceType) -> tuple[str, list]:
    """The filter's SQL and parameters. A NUL in a compared value is refused as it is in a
    body: PostgreSQL cannot hold the text, and both stores answer alike."""
    where, params = compile_filter(expr, rtype, dialect(gw))
    if any(isinstance(value, str) and "\x00" in value for value in params):
        raise ScimError(400, "A filter value may not contain the NUL character (\\u0000)",
                        "invalidFilter")
    return where, params


def is_point(expr: Any, rtype: ResourceType) -> bool:
    """A filter that a unique or near-unique index answers: `userName eq`, `externalId eq`,
    `id eq` (what IdPs send before every create)."""
    return (isinstance(expr, Compare) and expr.op == "eq" and expr.path.sub is None
            and (rtype.name, expr.path.attr) in POINT_ATTRIBUTES)


async def search(gw: Gateway, pid: str, rtype: ResourceType, query: ListQuery) -> dict:
    where: str = ""
    params: list = []
    point = False
    if query.filter:
        expr = parse_filter(query.filter, rtype)
        where, params = filter_sql(gw, expr, rtype)
        point = is_point(expr, rtype)
    attrs, excl = projection(rtype, query.attributes, query.excluded)
    wanted = wants_members(rtype, attrs, excl)
    point = point and not (rtype.name == "Group" and wanted)
    order = order_by(gw, rtype, query)
    with_groups = rtype.name == "User" and wanted
    offset, limit = query.start_index - 1, page_size(gw, query)
    async with (gw.store.lookup() if point else gw.store.read()) as conn:
        multi = None
        if with_groups:  # the users and their groups in one statement
            total, rows, multi = await resources.page_of_users(conn, pid, where, params,
                                                               order, offset, limit)
        else:
            total, rows = await resources.page(conn, pid, rtype.name, where, params, order,
                                               offset, limit)
        found = await render_rows(gw, conn, pid, rtype, rows, query.attributes, query.excluded,
                                  multi)
    return list_response(total, query.start_index, found)


def page_size(gw: Gateway, query: ListQuery) -> int:
    """`count`, or the default page size, capped at the advertised maximum."""
    wanted = gw.settings.default_page_size if query.count is None else query.count
    return min(wanted, gw.settings.max_page_size)


def list_response(total: int, start_index: int, found: list[dict]) -> dict:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(found),
        "Resources": found,
    }
