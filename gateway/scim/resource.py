"""A client's resource body -> the canonical stored shape, and back to SCIM JSON.

Canonical shape: keys spelled as the schema spells them, extension attributes nested under
their schema URN, values type-checked, nulls and empty values dropped, readOnly attributes
(id, meta, groups) and writeOnly ones (password) left out: the gateway keeps no passwords.
A multi-valued attribute with more than one `primary: true` value is refused (RFC 7643 2.4).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.scim import custom
from gateway.scim.custom import Undeclared
from gateway.scim.errors import ScimError
from gateway.scim.schema import COMMON, Attribute, ResourceType

# Client-sent members of the body that are not attributes of any schema.
_ENVELOPE = {"schemas"}


def canonical_resource(body: Any, rtype: ResourceType, max_values: int | None = None,
                       undeclared: Undeclared | None = None) -> dict:
    """Validate a POST/PUT body and return its canonical form (no id, meta, readOnly).

    ``max_values`` bounds the values of each multi-valued attribute (Group members excepted:
    they are rows); more answers 400 before any value is looked at. ``undeclared`` (a
    provider's write) decides what becomes of attributes under an extension URN that no
    schema declares (gateway.scim.custom); without it they are refused."""
    if not isinstance(body, dict):
        raise ScimError(400, f"A {rtype.name} must be a JSON object", "invalidSyntax")
    out: dict = {}
    for key, value in body.items():
        if key.lower() in _ENVELOPE:
            check_schemas(value, rtype, undeclared)
            continue
        schema = rtype.schema_by_urn(key) if key.lower().startswith("urn:") else None
        if schema is not None and schema.id != rtype.schema.id:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ScimError(400, f"'{key}' must be a JSON object", "invalidSyntax")
            ext = _extension(out, schema.id)
            for name, sub_value in value.items():
                attr = schema.attribute(name)
                if attr is None:
                    if not (schema.custom and undeclared is not None):
                        raise unknown_attribute(f"{schema.id}:{name}", rtype)
                    keep(ext, schema.id, name, sub_value, rtype, undeclared, max_values)
                    continue
                check_count(attr, sub_value, f"{schema.id}:{attr.name}", max_values)
                put_attribute(ext, attr, sub_value, f"{schema.id}:{attr.name}")
            if not ext:
                del out[schema.id]
            continue
        if schema is not None:  # the core schema URN used as a container: unusual but valid
            if isinstance(value, dict):
                out.update(canonical_resource(value, rtype, max_values, undeclared))
                continue
        if undeclared is not None and kept_aside(out, key, value, rtype, undeclared,
                                                 max_values):
            continue
        try:
            urn, attr, sub = rtype.resolve(key)
        except ScimError:
            raise unknown_attribute(key, rtype) from None
        if sub is not None:
            raise unknown_attribute(key, rtype)
        if not (rtype.name == "Group" and attr.name == "members"):
            check_count(attr, value, attr.name, max_values)
        if urn != rtype.schema.id:
            ext = out.setdefault(urn, {})
            put_attribute(ext, attr, value, f"{urn}:{attr.name}")
            if not ext:
                del out[urn]
            continue
        put_attribute(out, attr, value, attr.name)
    return out


def _extension(out: dict, urn: str) -> dict:
    found = out.get(urn)
    if not isinstance(found, dict):
        found = out[urn] = {}
    return found


def kept_aside(out: dict, key: str, value: Any, rtype: ResourceType, undeclared: Undeclared,
               max_values: int | None) -> bool:
    """An undeclared attribute of a provider's body, kept (True) or refused; False for a key
    that is not one. An extension URN no schema has, holding an object, is an extension
    (what Entra and Okta send); any other URN-qualified key names one attribute."""
    if key[:4].lower() != "urn:":
        return False
    if isinstance(value, dict) and custom.is_container(key, rtype):
        urn = custom.open_urn(key, rtype)
        if urn is None:
            return False
        ext = _extension(out, urn)
        for name, item in value.items():
            if not custom.ATTRNAME.match(name):
                raise unknown_attribute(f"{urn}:{name}", rtype)
            keep(ext, urn, name, item, rtype, undeclared, max_values)
        if not ext:
            del out[urn]
        return True
    found = custom.undeclared_path(key, rtype)
    if found is None:
        return False
    urn, name, sub = found
    if sub is not None:
        raise unknown_attribute(key, rtype)
    ext = _extension(out, urn)
    keep(ext, urn, name, value, rtype, undeclared, max_values)
    if not ext:
        del out[urn]
    return True


def keep(ext: dict, urn: str, name: str, value: Any, rtype: ResourceType,
         undeclared: Undeclared, max_values: int | None) -> None:
    """Store an undeclared attribute as received (empty values dropped, as everywhere);
    one named like a secret (`password`) is dropped as the core drops it, and `schemas`
    (clients serialise extension objects with it) is not an attribute."""
    if custom.is_secret(name, rtype) or name.lower() == "schemas":
        return
    if max_values is not None and isinstance(value, list) and len(value) > max_values:
        raise too_many(f"{urn}:{name}", max_values, len(value))
    value = prune(value)
    key = find_key(ext, name) or name
    if is_empty(value):
        ext.pop(key, None)
        return
    undeclared.allow(f"{urn}:{name}", value, "invalidSyntax")
    ext[key] = value


def check_count(attr: Attribute, value: Any, label: str, limit: int | None) -> None:
    if limit is not None and attr.multi_valued and isinstance(value, list) and \
            len(value) > limit:
        raise too_many(label, limit, len(value))


def too_many(label: str, limit: int, count: int) -> ScimError:
    return ScimError(400, f"'{label}' may have at most {limit} values (max_attribute_values); "
                          f"this request gives it {count}", "invalidValue")


def check_schemas(value: Any, rtype: ResourceType, undeclared: Undeclared | None = None
                  ) -> None:
    """`schemas` may name only schemas of this resource type (RFC 7643 section 3): an unknown
    URN is refused rather than silently ignored, so a client learns that its data has no home
    here. IdP plugins that send extra URNs strip them in ``normalize_request``. A provider's
    write may also name extension URNs it has not declared (see canonical_resource)."""
    if not isinstance(value, list) or not all(isinstance(urn, str) for urn in value):
        raise ScimError(400, "\"schemas\" must be a list of schema URNs", "invalidSyntax")
    known = {schema.id.lower() for schema in rtype.schemas}
    for urn in value:
        if urn.lower() not in known and undeclared is not None and \
                custom.is_extension_urn(urn):
            if not undeclared.keep:
                raise undeclared.refusal(urn, "invalidValue")
            continue
        if urn.lower() not in known:
            raise ScimError(
                400, f"Unknown schema '{urn}' in \"schemas\": a {rtype.name} accepts only "
                f"{', '.join(s.id for s in rtype.schemas)}", "invalidValue")


def put_attribute(target: dict, attr: Attribute, value: Any, label: str) -> None:
    """Set attr in target from a client value, unless the client may not write it."""
    if attr.mutability == "readOnly" or attr.returned == "never":
        return
    if attr in COMMON and attr.name != "externalId":
        return
    checked = check_value(attr, value, label)
    if attr.multi_valued and attr.type == "complex":
        check_one_primary(checked, label)
    if is_empty(checked):
        target.pop(attr.name, None)
    else:
        target[attr.name] = checked


def check_one_primary(items: list | None, label: str) -> None:
    """RFC 7643 section 2.4: the primary value is "true" for no more than one value; a body
    (POST, PUT) marking two is refused rather than resolved by a guess."""
    primaries = [item for item in items or () if item.get("primary") is True]
    if len(primaries) > 1:
        raise ScimError(400, f"'{label}': only one value may have \"primary\": true, "
                        f"{len(primaries)} have it", "invalidValue")


def check_value(attr: Attribute, value: Any, label: str) -> Any:
    """Type-check a whole attribute value (a list for multi-valued attributes)."""
    if value is None:
        return None
    if attr.multi_valued:
        items = value if isinstance(value, list) else [value]
        checked = [check_single(attr, item, label) for item in items]
        return [item for item in checked if not is_empty(item)]
    if isinstance(value, list):
        raise ScimError(400, f"'{label}' is single-valued; a list was given", "invalidValue")
    return check_single(attr, value, label)


def check_single(attr: Attribute, value: Any, label: str) -> Any:
    if value is None:
        return None
    if attr.type == "complex":
        if not isinstance(value, dict):
            raise ScimError(400, f"'{label}' must be a JSON object", "invalidValue")
        out = {}
        for name, sub_value in value.items():
            sub = attr.sub(name)
            if sub is None:
                raise ScimError(
                    400, f"'{label}' has no sub-attribute '{name}'", "invalidSyntax"
                )
            if sub.mutability == "readOnly" and attr.mutability != "readOnly":
                # display names of references are computed by the server.
                continue
            if sub.returned == "never" or sub.mutability == "writeOnly":
                continue  # kept nowhere, as a writeOnly attribute is
            checked = check_single(sub, sub_value, f"{label}.{sub.name}")
            if not is_empty(checked):
                out[sub.name] = checked
        return out
    return check_scalar(attr, value, label)


def check_scalar(attr: Attribute, value: Any, label: str) -> Any:
    kind = attr.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ScimError(400, f"'{label}' must be a boolean (true or false)", "invalidValue")
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ScimError(400, f"'{label}' must be an integer", "invalidValue")
    if kind == "decimal":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise ScimError(400, f"'{label}' must be a number", "invalidValue")
    if not isinstance(value, str):
        raise ScimError(400, f"'{label}' must be a string", "invalidValue")
    if kind == "dateTime":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ScimError(
                400, f"'{label}' must be an xsd:dateTime such as 2026-01-01T00:00:00Z",
                "invalidValue",
            ) from None
    return value


def copy_data(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars): copy.deepcopy's result at a
    fraction of its cost, which matters on every update."""
    if type(value) is dict:
        return {k: copy_data(v) for k, v in value.items()}
    if type(value) is list:
        return [copy_data(v) for v in value]
    return value


def is_empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def unknown_attribute(name: str, rtype: ResourceType) -> ScimError:
    return ScimError(
        400,
        f"Unknown attribute '{name}' for {rtype.name}: it is in none of the schemas "
        f"{', '.join(s.id for s in rtype.schemas)}",
        "invalidSyntax",
    )


def schemas_of(data: dict, rtype: ResourceType) -> list[str]:
    """The `schemas` list of a resource: the core schema and each extension it has data for,
    undeclared ones (kept as a provider sent them) last."""
    urns = [rtype.schema.id]
    for ext, _required in rtype.extensions:
        if ext.id in data:
            urns.append(ext.id)
    for key, value in data.items():
        if key[:4].lower() == "urn:" and isinstance(value, dict) and key not in urns \
                and rtype.schema_by_urn(key) is None:
            urns.append(key)
    return urns


def prune(value: Any) -> Any:
    """Canonical data holds no empty values: a copy without them, at any depth."""
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if not is_empty(v)}
    if isinstance(value, list):
        items = [prune(v) for v in value]
        return [v for v in items if not is_empty(v)]
    return value


def find_key(obj: dict, name: str) -> str | None:
    """The key of obj that equals name case-insensitively (attribute names are)."""
    if name in obj:
        return name
    lowered = name.lower()
    for key in obj:
        if key.lower() == lowered:
            return key
    return None
