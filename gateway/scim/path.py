"""Attribute paths: PATCH targets (RFC 7644 section 3.5.2) and `attributes=` lists.

PATH = attrPath / valuePath [subAttr], e.g. `name.familyName`, `emails[type eq "work"]`,
`emails[type eq "work"].value`, `urn:...:enterprise:2.0:User:manager.value`. Names resolve to
their canonical spelling; the bracket filter reuses the filter grammar of `gateway.scim.filter`.
"""

from __future__ import annotations

import re

import msgspec

from gateway.scim.ast import SCHEMAS_ATTR, AttrPath, Compare, Filter
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import element_matches, resource_values
from gateway.scim.filter import Parser, check_compare, describe
from gateway.scim.schema import ResourceType


class PatchPath(msgspec.Struct, frozen=True):
    attr: AttrPath
    value_filter: Filter | None = None
    sub: str | None = None


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


def parse_path(text: str, rtype: ResourceType) -> PatchPath:
    """Parse a PATCH operation's path; every error is ScimError(400, ..., "invalidPath").

    That includes a malformed filter inside the brackets, and brackets after an attribute
    that is not multi-valued and complex.
    """
    if not isinstance(text, str) or not text.strip():
        raise invalid_path("The path is empty")
    quick = _one_value(text, rtype)
    if quick is not None:
        return quick
    try:
        return _parse_path(Parser(text, rtype), rtype, text)
    except ScimError as exc:
        if exc.scim_type == "invalidFilter":
            raise invalid_path(f"Invalid path '{text}': {exc.detail}") from None
        raise


# `members[value eq "id"]`, as Entra and Okta name each member they remove (a hundred to a
# PATCH): a plain name and a string with nothing to unescape.
_ONE_VALUE = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\[(value) (eq) "([^"\\\x00-\x1f]*)"\]',
                        re.IGNORECASE)


def _one_value(text: str, rtype: ResourceType) -> PatchPath | None:
    """The path the grammar gives a path of that one shape, without tokenizing it; None
    for any other path or any doubt (the grammar then parses it, and words any error)."""
    found = _ONE_VALUE.fullmatch(text)
    if found is None:
        return None
    name, label, op, value = found.groups()
    try:
        urn, attr, sub = rtype.resolve(name)
    except ScimError:
        return None
    value_sub = attr.sub(label) if attr.type == "complex" and attr.multi_valued else None
    if sub is not None or value_sub is None or value_sub.returned == "never":
        return None
    try:
        where = check_compare(Compare(AttrPath(urn, attr.name, value_sub.name), op.lower(),
                                      value), rtype, label)
    except ScimError:
        return None
    return PatchPath(AttrPath(urn, attr.name), where)


def _parse_path(parser: Parser, rtype: ResourceType, text: str) -> PatchPath:
    first = parser.next()
    if first.kind != "word":
        raise invalid_path(f"Invalid path '{text}': it must start with an attribute name")
    urn, attr, sub = rtype.resolve(first.text)
    path = AttrPath(urn, attr.name, sub.name if sub else None)
    tok = parser.peek()
    if tok.kind == "end":
        return PatchPath(path)
    if tok.kind != "[":
        raise invalid_path(f"Invalid path '{text}': unexpected {describe(tok)}")
    if sub is not None or attr.type != "complex" or not attr.multi_valued:
        raise invalid_path(
            f"Invalid path '{text}': only a multi-valued complex attribute takes [filter]"
        )
    value_filter = parser.value_filter(path, first).expr
    sub_attr = parser.sub_attribute(attr)
    after = parser.next()
    if after.kind == "end":
        return PatchPath(path, value_filter, sub_attr.name if sub_attr else None)
    raise invalid_path(f"Invalid path '{text}': unexpected {describe(after)} after "
                       f"'{'.' + sub_attr.name if sub_attr else ']'}'")


def parse_attr_list(text: str, rtype: ResourceType) -> list[AttrPath]:
    """Parse `attributes=` / `excludedAttributes=`: comma separated, whitespace tolerant.

    Unknown names raise ScimError(400, ..., "invalidPath") (the parameter is a list of
    paths). `schemas` is dropped: it is always returned. A bare extension URN stands for every
    attribute of that extension. Duplicates are dropped; order is kept.
    """
    out: list[AttrPath] = []
    for part in (text or "").split(","):
        name = part.strip()
        if not name or name.lower() in (SCHEMAS_ATTR.name, f"{rtype.schema.id}:schemas".lower()):
            continue
        for path in _resolve_listed(name, rtype):
            if path not in out:
                out.append(path)
    return out


def _resolve_listed(name: str, rtype: ResourceType) -> list[AttrPath]:
    schema = rtype.schema_by_urn(name)
    if schema is not None and schema.id != rtype.schema.id:
        return [AttrPath(schema.id, attr.name) for attr in schema.attributes]
    urn, attr, sub = rtype.resolve(name)
    return [AttrPath(urn, attr.name, sub.name if sub else None)]


def path_values(resource: dict, text: str, rtype: ResourceType) -> list:
    """The values a path selects in a canonical resource, for plugins that let the admin map
    attributes by path: `title` -> [title], `emails[type eq "work"].value` -> the work
    emails' values, `addresses[primary eq true]` -> the primary address objects. A malformed
    or unknown path raises ScimError(400, ..., "invalidPath")."""
    path = parse_path(text, rtype)
    whole = AttrPath(path.attr.schema, path.attr.attr)
    items = resource_values(resource, path.attr if path.value_filter is None else whole, rtype)
    if path.value_filter is None:
        return items
    chosen = [item for item in items
              if isinstance(item, dict) and element_matches(path.value_filter, item, rtype)]
    if path.sub is None:
        return chosen
    return [item[path.sub] for item in chosen if item.get(path.sub) is not None]
