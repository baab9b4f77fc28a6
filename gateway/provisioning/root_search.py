"""POST /.search at the provider root (RFC 7644 3.4.3): Users and Groups in one list.

One SQL query over the resources table selects every type at once, so `totalResults` is
exact and paging (startIndex/count) runs over the combined result. The order is by
`sortBy` when given (a type that does not define the attribute sorts as if it were
unassigned: last in ascending order), else by creation time; ties break by creation time,
then id.
Per type, a filter or attribute list naming attributes the type does not define is read as
gateway.scim.across describes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gateway.provisioning import reads
from gateway.provisioning.reads import ListQuery, dialect, filter_sql, multi_values
from gateway.provisioning.render import render
from gateway.scim.across import attr_lists_across, parse_across
from gateway.scim.ast import AttrPath
from gateway.scim.errors import ScimError
from gateway.scim.path import parse_attr_list
from gateway.scim.project import project, wants_members
from gateway.scim.schema import Registry, ResourceType
from gateway.store import resources
from gateway.store.base import Conn, ResourceRow
from gateway.store.filter_sql import compile_sort

if TYPE_CHECKING:
    from gateway.core import Gateway

TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def type_literal(rtype: ResourceType) -> str:
    if not TYPE_NAME.match(rtype.name):  # registry names are code, but never trust SQL text
        raise ValueError(f"resource type name unsafe for SQL: {rtype.name!r}")
    return f"'{rtype.name}'"


def condition(gw: Gateway, types: list[ResourceType], query: ListQuery) -> tuple[str, list]:
    filters = parse_across(query.filter, types) if query.filter else {}
    clauses, params = [], []
    for rtype in types:
        clause = f"r.type = {type_literal(rtype)}"
        if rtype.name in filters:
            sql, args = filter_sql(gw, filters[rtype.name], rtype)
            clause += f" AND ({sql})"
            params += args
        clauses.append(f"({clause})")
    return " OR ".join(clauses), params


def order_by(gw: Gateway, types: list[ResourceType], query: ListQuery) -> str:
    direction = "DESC" if query.sort_order == "descending" else "ASC"
    if not query.sort_by:
        return f"r.created {direction}, r.id {direction}"
    branches = []
    for rtype in types:
        try:
            paths = parse_attr_list(query.sort_by, rtype)
        except ScimError:
            continue  # not this type's attribute: NULL, sorted as unassigned
        if len(paths) != 1:
            raise ScimError(400, "sortBy names exactly one attribute", "invalidValue")
        expr = compile_sort(paths[0], rtype, dialect(gw))
        branches.append(f"WHEN r.type = {type_literal(rtype)} THEN {expr}")
    if not branches:
        raise ScimError(400, f"sortBy: no resource type defines '{query.sort_by}'",
                        "invalidValue")
    key = f"(CASE {' '.join(branches)} END)"
    # Rows without the attribute sort last in ascending order, as on each endpoint.
    return f"{key} IS NULL {direction}, {key} {direction}, r.created {direction}, " \
           f"r.id {direction}"


async def render_mixed(gw: Gateway, conn: Conn, pid: str, types: list[ResourceType],
                       rows: list[ResourceRow], query: ListQuery) -> list[dict]:
    by_name = {t.name: t for t in types}
    attrs = attr_lists_across(query.attributes, types) if query.attributes else None
    excl = attr_lists_across(query.excluded, types) if query.excluded else None
    multi: dict[str, list] = {}
    for rtype in types:
        ids = [row.id for row in rows if row.type == rtype.name]
        if ids and wants_members(rtype, wanted(attrs, rtype), excluded(excl, rtype)):
            multi.update(await multi_values(conn, rtype, ids))
    base = gw.base_url(pid)
    out = []
    for row in rows:
        rtype = by_name[row.type]
        body = render(row, rtype, base, multi.get(row.id))
        out.append(project(body, rtype, wanted(attrs, rtype), excluded(excl, rtype)))
    return out


def wanted(attrs: dict[str, list] | None, rtype: ResourceType) -> list[AttrPath] | None:
    """The type's share of `attributes`; none of them means only what is always returned
    (`id` stands for that: an empty list would mean the defaults)."""
    if attrs is None:
        return None
    return attrs[rtype.name] or [AttrPath(rtype.schema.id, "id")]


def excluded(excl: dict[str, list] | None, rtype: ResourceType) -> list[AttrPath] | None:
    return (excl or {}).get(rtype.name) or None


async def search_root(gw: Gateway, pid: str, query: ListQuery,
                      registry: Registry | None = None) -> dict:
    """Every resource type of `registry` (the provider's; the app's by default)."""
    types = list((registry or gw.registry).types.values())
    where, params = condition(gw, types, query)
    order = order_by(gw, types, query)
    if query.attributes:
        attr_lists_across(query.attributes, types)  # a bad list answers 400 before any read
    if query.excluded:
        attr_lists_across(query.excluded, types)
    async with gw.store.read() as conn:
        total, rows = await resources.page_where(conn, pid, where, params, order,
                                                 query.start_index - 1,
                                                 reads.page_size(gw, query))
        found = await render_mixed(gw, conn, pid, types, rows, query)
    return reads.list_response(total, query.start_index, found)
