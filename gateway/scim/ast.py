"""The AST of SCIM filters and attribute paths (RFC 7644 section 3.4.2.2), and how a path
resolves against a resource type's schema.

The AST is the contract between the protocol and the stores: `gateway.scim.filter` parses
text into it and prints it back, `gateway.store.filter_sql` compiles it to SQL, and
`gateway.scim.evaluate` defines what every compiled query must select. Attribute names in
the AST are canonical (as the schema spells them), so later stages never compare names
case-insensitively.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from gateway.scim.errors import ScimError
from gateway.scim.schema import COMMON, Attribute, ResourceType

MAX_FILTER_LENGTH = 4096
MAX_DEPTH = 50

COMPARE_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
ORDER_OPS = ("gt", "ge", "lt", "le")
SUBSTRING_OPS = ("co", "sw", "ew")

# Not a schema attribute (RFC 7643 section 3): a resource's schema URNs, usable in filters.
SCHEMAS_ATTR = Attribute(name="schemas", type="reference", multi_valued=True,
                         mutability="readOnly", returned="always")

# Multi-valued references whose `value` is a resource id (caseExact like `id` itself).
ID_REFERENCES = (("Group", "members"), ("User", "groups"))


class AttrPath(msgspec.Struct, frozen=True):
    schema: str
    attr: str
    sub: str | None = None


class Compare(msgspec.Struct, frozen=True):
    path: AttrPath
    op: str
    value: str | int | float | bool | None


class Present(msgspec.Struct, frozen=True):
    path: AttrPath


class And(msgspec.Struct, frozen=True):
    left: Filter
    right: Filter


class Or(msgspec.Struct, frozen=True):
    left: Filter
    right: Filter


class Not(msgspec.Struct, frozen=True):
    expr: Filter


class ValueFilter(msgspec.Struct, frozen=True):
    path: AttrPath
    expr: Filter


Filter = Compare | Present | And | Or | Not | ValueFilter


def invalid(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def lookup(path: AttrPath, rtype: ResourceType) -> tuple[Attribute, Attribute | None]:
    """The (attribute, sub-attribute) an AST path names; KeyError if rtype has no such one."""
    if path.attr == SCHEMAS_ATTR.name and path.schema == rtype.schema.id:
        return SCHEMAS_ATTR, None
    attr = next((a for a in COMMON if a.name == path.attr), None)
    if attr is None:
        schema = rtype.schema_by_urn(path.schema)
        attr = schema.attribute(path.attr) if schema else None
    if attr is None:
        raise KeyError(path)
    if path.sub is None:
        return attr, None
    sub = attr.sub(path.sub)
    if sub is None:
        raise KeyError(path)
    return attr, sub


def leaf(path: AttrPath, rtype: ResourceType) -> Attribute:
    attr, sub = lookup(path, rtype)
    return sub or attr


def is_case_exact(path: AttrPath, rtype: ResourceType) -> bool:
    if path.sub == "value" and (rtype.name, path.attr) in ID_REFERENCES:
        return True
    return leaf(path, rtype).case_exact


def parse_datetime(text: str) -> datetime | None:
    """An xsd:dateTime as an aware UTC datetime (naive means UTC); None if unparseable."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
