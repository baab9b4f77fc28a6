"""The `attribute` mapping method: an attribute path read from a user's SCIM data.

Paths are SCIM paths (`urn:...:enterprise:2.0:User:department`,
`addresses[primary eq true].region`). Okta's expression notation for the same thing,
`addresses.^[primary==true].region`, is accepted and stored in the SCIM form.
"""

from __future__ import annotations

import re

from gateway.plugin import (
    AttrPath,
    PatchPath,
    ResourceType,
    ScimError,
    element_matches,
    lookup,
    parse_path,
    resource_values,
)

_OKTA = re.compile(
    r"^(?P<attr>[\w:.\-]+?)\.\^\[\s*(?P<key>\w+)\s*==\s*"
    r"(?P<value>true|false|\"[^\"]*\"|'[^']*')\s*\](?:\.(?P<sub>\w+))?$"
)


def from_okta(text: str) -> str:
    """`a.^[k==v].s` -> `a[k eq v].s`; any other text is returned unchanged."""
    found = _OKTA.match(text)
    if found is None:
        return text
    value = found["value"]
    if value.startswith("'"):
        value = '"' + value[1:-1] + '"'
    tail = f".{found['sub']}" if found["sub"] else ""
    return f"{found['attr']}[{found['key']} eq {value}]{tail}"


def parse(text: object, rtype: ResourceType) -> tuple[str, PatchPath]:
    """The stored form of an attribute path and its parse; ScimError(400) when unusable."""
    if not isinstance(text, str) or not text.strip():
        raise ScimError(400, "'attribute' must be a non-empty attribute path, for example "
                             "'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
                             "department'")
    scim = from_okta(text.strip())
    try:
        path = parse_path(scim, rtype)
    except ScimError as error:
        raise ScimError(400, f"'attribute': {error.detail}") from None
    attr, sub = lookup(path.attr, rtype)
    target = attr.sub(path.sub) if path.sub else (sub or attr)
    if target is None or target.type != "string":
        raise ScimError(400, f"'attribute': '{scim}' must name a string attribute (for a "
                             "complex one, name its sub-attribute, e.g. "
                             "'addresses[primary eq true].region')")
    return scim, path


def evaluate(path: PatchPath, data: dict, rtype: ResourceType) -> str | None:
    """The first non-blank string the path selects in a user's data, trimmed."""
    if path.value_filter is None:
        values = resource_values(data, path.attr, rtype)
    else:
        whole = AttrPath(path.attr.schema, path.attr.attr)
        elements = [e for e in resource_values(data, whole, rtype)
                    if isinstance(e, dict) and element_matches(path.value_filter, e, rtype)]
        values = [e.get(path.sub) for e in elements] if path.sub else elements
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
