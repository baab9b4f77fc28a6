"""The reference evaluator of filters: what a filter selects in a resource held in memory.

`gateway.store.filter_sql` must select exactly what `matches` accepts (the store tests check
the two against each other); PATCH paths and plugins use it to pick values out of a resource.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.scim.ast import (
    SCHEMAS_ATTR,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValueFilter,
    invalid,
    is_case_exact,
    leaf,
    lookup,
    parse_datetime,
)
from gateway.scim.schema import COMMON, ResourceType, by_identity

Getter = Callable[[AttrPath], list]


def matches(f: Filter, resource: dict, rtype: ResourceType) -> bool:
    """Does the resource (canonical shape plus id, externalId, meta, members) satisfy f?"""
    return _eval(f, lambda path: resource_values(resource, path, rtype), resource, rtype)


def element_matches(expr: Filter, element: dict, rtype: ResourceType) -> bool:
    """Does one element of a multi-valued attribute satisfy a ValueFilter's inner expr?"""
    def get(path: AttrPath) -> list:
        if not isinstance(element, dict):
            return []
        return as_list(element.get(path.sub)) if path.sub else [element]
    return _eval(expr, get, None, rtype)


def _eval(f: Filter, get: Getter, resource: dict | None, rtype: ResourceType) -> bool:
    if isinstance(f, And):
        return _eval(f.left, get, resource, rtype) and _eval(f.right, get, resource, rtype)
    if isinstance(f, Or):
        return _eval(f.left, get, resource, rtype) or _eval(f.right, get, resource, rtype)
    if isinstance(f, Not):
        return not _eval(f.expr, get, resource, rtype)
    if isinstance(f, ValueFilter):
        if resource is None:
            raise invalid("Nested [] filters are not allowed")
        elements = resource_values(resource, f.path, rtype)
        return any(element_matches(f.expr, el, rtype) for el in elements)
    values = get(f.path)
    if isinstance(f, Present):
        return any(not is_empty(v) for v in values)
    return compare_values(values, f, rtype)


def compare_values(values: list, node: Compare, rtype: ResourceType) -> bool:
    if node.value is None:
        present = any(not is_empty(v) for v in values)
        return present if node.op == "ne" else not present
    kind, exact = _leaf_rules(node.path, rtype)
    if node.op == "ne":
        return not any(compare_one(v, "eq", node.value, kind, exact) for v in values)
    return any(compare_one(v, node.op, node.value, kind, exact) for v in values)


def _leaf_rules(path: AttrPath, rtype: ResourceType) -> tuple[str, bool]:
    """The type and caseExact rule of a compared path, resolved once per path and type: a
    filtered PATCH compares every element against the same few paths."""
    known = _rules(rtype)
    found = known.get(path)
    if found is None:
        found = known[path] = (leaf(path, rtype).type, is_case_exact(path, rtype))
    return found


@by_identity
def _rules(rtype: ResourceType) -> dict[AttrPath, tuple[str, bool]]:
    return {}  # filled by _leaf_rules; only paths the schema resolves reach it


def compare_one(actual: Any, op: str, expected: Any, kind: str, case_exact: bool) -> bool:
    if kind == "boolean":
        return isinstance(actual, bool) and actual == expected
    if kind in ("integer", "decimal"):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return False
        return _order(actual, op, expected)
    if not isinstance(actual, str):
        return False
    if kind == "dateTime":
        left, right = parse_datetime(actual), parse_datetime(expected)
        return left is not None and right is not None and _order(left, op, right)
    if not case_exact:
        actual, expected = actual.lower(), expected.lower()
    if op == "co":
        return expected in actual
    if op == "sw":
        return actual.startswith(expected)
    if op == "ew":
        return actual.endswith(expected)
    return _order(actual, op, expected)


def _order(left: Any, op: str, right: Any) -> bool:
    if op == "eq":
        return left == right
    if op == "gt":
        return left > right
    if op == "ge":
        return left >= right
    if op == "lt":
        return left < right
    if op == "le":
        return left <= right
    raise invalid(f"Operator '{op}' does not apply here")


def resource_values(resource: dict, path: AttrPath, rtype: ResourceType) -> list:
    """The values a path selects: one per element for multi-valued attributes."""
    if path.attr == SCHEMAS_ATTR.name and path.schema == rtype.schema.id:
        return schemas_of(resource, rtype)
    common = any(a.name == path.attr for a in COMMON)
    container = resource if common or path.schema == rtype.schema.id else resource.get(path.schema)
    if not isinstance(container, dict):
        return []
    raw = container.get(path.attr)
    if raw is None:
        return []
    attr, _sub = lookup(path, rtype)
    items = as_list(raw) if attr.multi_valued else [raw]
    if path.sub is None:
        return items
    return [item[path.sub] for item in items
            if isinstance(item, dict) and item.get(path.sub) is not None]


def schemas_of(resource: dict, rtype: ResourceType) -> list[str]:
    """Derived from the data, not from a rendered `schemas` key, so SQL can mirror it."""
    urns = [rtype.schema.id]
    for ext, _required in rtype.extensions:
        value = resource.get(ext.id)
        if isinstance(value, dict) and value:
            urns.append(ext.id)
    return urns


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}
