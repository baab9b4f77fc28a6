"""Entra ID's SCIM dialect -> canonical SCIM, driven by the schema's attribute metadata.

What Entra sends that strict RFC 7644 refuses (everything else it sends is standard and left
to the core):
- ``"True"`` / ``"False"`` strings where the schema says boolean (Entra apps without the
  ``aadOptscim062020`` feature flag), in bodies, PATCH values and no-path value objects;
- the enterprise ``manager`` as a bare id string instead of ``{"value": id}``, or as a
  one-element list ``[{"$ref": ..., "value": id}]`` (the tutorial's Example 5);
- enterprise attribute names without their URN (``"path": "manager"``) in PATCH paths and
  no-path keys, where the core schema has no attribute of that name;
- its own schema URN for groups (``http://schemas.microsoft.com/2006/11/ResourceManagement/
  ADSCIM/2.0/Group``) in ``schemas``, which the core refuses as unknown.

Entra clears an attribute by sending an empty string (its gallery validation suite replaces
each attribute with ``""``, the manager too). Every value converted here reads ``""`` as no
value: a boolean ``""`` and a manager ``""`` or ``{"value": ""}`` become null, which the core
treats as clearing the attribute. An ``Add`` whose value that leaves null is sent on as a
``replace`` (the core refuses an add without a value).
"""

from __future__ import annotations

import re
from typing import Any

from gateway.plugin import (
    ENTERPRISE_SCHEMA,
    GROUP_TYPE,
    USER_TYPE,
    Attribute,
    ResourceType,
    ScimError,
)

ENTRA_URN_PREFIX = "http://schemas.microsoft.com/2006/11/resourcemanagement/adscim/"
RESOURCE_TYPES = {"User": USER_TYPE, "Group": GROUP_TYPE}
_FILTER = re.compile(r"\[[^\]]*\]")
_NAME = re.compile(r"[^\[.\s]+")


def normalize(resource_type: str, operation: str, body: Any,
              rtype: ResourceType | None = None) -> Any:
    """The canonical form of one Entra request body (a resource, or a PatchOp); ``rtype``
    is the provider's resource type (the built-in one by default)."""
    rtype = rtype or RESOURCE_TYPES.get(resource_type)
    if rtype is None or not isinstance(body, dict):
        return body
    if operation == "patch":
        return normalize_patch(body, rtype)
    return normalize_resource(body, rtype)


def normalize_resource(body: dict, rtype: ResourceType) -> dict:
    out: dict = {}
    for key, value in body.items():
        if key.lower() == "schemas":
            out[key] = strip_entra_urns(value)
            continue
        out[key] = fix_keyed(key, value, rtype)
    return out


def strip_entra_urns(schemas: Any) -> Any:
    if not isinstance(schemas, list):
        return schemas
    return [urn for urn in schemas
            if not (isinstance(urn, str) and urn.lower().startswith(ENTRA_URN_PREFIX))]


def normalize_patch(body: dict, rtype: ResourceType) -> dict:
    out = dict(body)
    for key, ops in body.items():
        if key.lower() == "operations" and isinstance(ops, list):
            out[key] = [fixed for op in ops for fixed in fix_operation(op, rtype)]
    return out


def fix_operation(op: Any, rtype: ResourceType) -> list:
    """One Entra operation -> the canonical operations it means (one, or two when a no-path
    Add both sets and clears attributes)."""
    if not isinstance(op, dict):
        return [op]
    keys = {k.lower(): k for k in op}
    if "value" not in keys:
        return [op]
    path, value = op.get(keys.get("path", "path")), op[keys["value"]]
    kind = op.get(keys.get("op", "op"))
    is_add = isinstance(kind, str) and kind.lower() == "add"
    fixed = dict(op)
    if isinstance(path, str) and path:
        path = fixed[keys["path"]] = qualify(path, rtype)
        fixed[keys["value"]] = fix_keyed(path, value, rtype)
        if is_add and value is not None and fixed[keys["value"]] is None:
            fixed[keys.get("op", "op")] = "replace"
        return [fixed]
    if not isinstance(value, dict):
        return [op]
    # No path: each key is itself a path.
    named = {qualify(k, rtype): v for k, v in value.items()}
    values = {k: fix_keyed(k, v, rtype) for k, v in named.items()}
    cleared = {k: None for k, v in values.items() if v is None and named[k] is not None}
    fixed[keys["value"]] = values
    if not (is_add and cleared):
        return [fixed]
    fixed[keys["value"]] = {k: v for k, v in values.items() if k not in cleared}
    clearing = {**op, keys.get("op", "op"): "replace", keys["value"]: cleared}
    return [fixed, clearing] if fixed[keys["value"]] else [clearing]


def qualify(path: str, rtype: ResourceType) -> str:
    """``manager`` -> ``urn:...:enterprise:2.0:User:manager`` when the core schema has no
    attribute of that name and the enterprise extension has one; other paths unchanged."""
    name = _NAME.match(path)
    enterprise = rtype.schema_by_urn(ENTERPRISE_SCHEMA)
    if name is None or enterprise is None or path.lower().startswith("urn:"):
        return path
    if rtype.top_attribute(name.group()) is None and enterprise.attribute(name.group()):
        return f"{enterprise.id}:{path}"
    return path


def fix_keyed(path: str, value: Any, rtype: ResourceType) -> Any:
    """Fix the value found at an attribute path (`active`, `emails[type eq "work"].primary`,
    `urn:...:enterprise:2.0:User:manager`, or an extension's URN holding an object)."""
    schema = rtype.schema_by_urn(path) if path.lower().startswith("urn:") else None
    if schema is not None:
        if not isinstance(value, dict):
            return value
        return {name: fix_keyed(f"{schema.id}:{name}", item, rtype)
                for name, item in value.items()}
    try:
        urn, attr, sub = rtype.resolve(_FILTER.sub("", path))
    except ScimError:
        return value  # the core names unknown attributes in its error
    if sub is not None:
        return fix_single(sub, value)
    if urn == ENTERPRISE_SCHEMA and attr.name == "manager":
        return fix_manager(value)
    return fix_value(attr, value)


def fix_manager(value: Any) -> Any:
    """A bare id -> ``{"value": id}``; an empty id (``""``, ``{"value": ""}``, ``[]``) ->
    null; a one-element list -> its element."""
    if isinstance(value, list) and len(value) <= 1:
        return fix_manager(value[0]) if value else None
    if isinstance(value, str):
        return {"value": value} if value else None
    if isinstance(value, dict):
        key = next((k for k in value if isinstance(k, str) and k.lower() == "value"), None)
        if key is not None and value[key] in ("", None):
            return None
    return value


def fix_value(attr: Attribute, value: Any) -> Any:
    if attr.multi_valued and isinstance(value, list):
        return [fix_single(attr, item) for item in value]
    return fix_single(attr, value)


def fix_single(attr: Attribute, value: Any) -> Any:
    if attr.type == "boolean":
        return as_boolean(value)
    if attr.type == "complex" and isinstance(value, dict):
        out = {}
        for name, item in value.items():
            sub = attr.sub(name)
            out[name] = fix_single(sub, item) if sub is not None else item
        return out
    return value


def as_boolean(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value == "":
        return None  # Entra's way of clearing
    return value
