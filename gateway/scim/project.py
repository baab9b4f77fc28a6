"""`attributes` / `excludedAttributes` (RFC 7644 section 3.9) and the `returned` rules of
RFC 7643 section 2.4, applied to a fully rendered SCIM resource.

Decisions:
- `attributes` and `excludedAttributes` are mutually exclusive in the RFC; when a client sends
  both, `attributes` wins and `excludedAttributes` is ignored (the narrower answer is safer).
- `returned: always` (id) and `schemas` survive everything; `never` (password) never appears;
  `request` appears only when named in `attributes`; `default` appears unless excluded or
  unless `attributes` is given and does not name it.
- Naming a sub-attribute (`name.givenName`, `emails.value`) keeps only the named
  sub-attributes of that attribute (of each element, for a multi-valued one); naming the
  parent keeps the whole value.
- Keys that no schema of the type defines are treated as `default` attributes.
- An extension object that ends up empty is dropped and its URN removed from `schemas`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.scim.ast import AttrPath
from gateway.scim.resource import is_empty
from gateway.scim.schema import Attribute, ResourceType, Schema, by_identity

# Attributes whose value is membership rows rather than stored data.
_MEMBERSHIP = {"Group": "members", "User": "groups"}


class _Selection:
    """The paths of one request that name a given attribute."""

    def __init__(self, paths: Iterable[AttrPath]) -> None:
        self.whole = False
        self.subs: set[str] = set()
        self.named = False
        for path in paths:
            self.named = True
            if path.sub is None:
                self.whole = True
            else:
                self.subs.add(path.sub.lower())


def project(
    resource: dict,
    rtype: ResourceType,
    attributes: list[AttrPath] | None = None,
    excluded: list[AttrPath] | None = None,
) -> dict:
    """The resource as the client asked to see it. The input is not modified."""
    attributes = attributes or None
    excluded = None if attributes else (excluded or None)
    if attributes is None and excluded is None and not _has_withheld(resource, rtype):
        return resource  # the default view, when nothing in it is withheld, is the resource
    out: dict = {}
    for key, value in resource.items():
        if key == "schemas":
            out[key] = value
            continue
        ext = _extension(rtype, key)
        if ext is not None:
            kept = _project_extension(value, ext, attributes, excluded)
            if kept:
                out[key] = kept
            continue
        found = rtype.top_attribute(key)
        if found is None:
            if attributes is None:  # unknown keys behave as `returned: default`
                out[key] = value
            continue
        urn, attr = found
        kept = _project_attribute(value, urn, attr, attributes, excluded)
        if not is_empty(kept):
            out[key] = kept
    if "schemas" in out:
        out["schemas"] = _schemas_left(out, rtype)
    return out


@by_identity
def _withheld(rtype: ResourceType) -> tuple[tuple[str | None, str], ...]:
    """(extension URN or None, attribute name) of every `returned: never` or `request`
    attribute of the type: the ones a default view must leave out."""
    found: list[tuple[str | None, str]] = []
    for schema in rtype.schemas:
        urn = None if schema is rtype.schema else schema.id
        found += [(urn, attr.name) for attr in schema.attributes
                  if attr.returned in ("never", "request")]
    return tuple(found)


@by_identity
def _withheld_inside(rtype: ResourceType) -> bool:
    return any(sub.returned in ("never", "request")
               for schema in rtype.schemas for attr in schema.attributes
               for sub in attr.sub_attributes)


def _has_withheld(resource: dict, rtype: ResourceType) -> bool:
    if _withheld_inside(rtype):
        return True  # withheld sub-attributes: take the full walk
    for urn, name in _withheld(rtype):
        holder = resource if urn is None else resource.get(urn)
        if isinstance(holder, dict) and name in holder:
            return True
    return False


def wants_members(
    rtype: ResourceType,
    attributes: list[AttrPath] | None,
    excluded: list[AttrPath] | None,
) -> bool:
    """Whether the answer will show Group `members` / User `groups`, i.e. whether the caller
    needs to read membership rows at all (they can be large; skip them when unseen)."""
    name = _MEMBERSHIP.get(rtype.name)
    attr = rtype.schema.attribute(name) if name else None
    if attr is None or attr.returned == "never":
        return False
    urn = rtype.schema.id
    if attributes:
        return _select(attributes, urn, attr).named or attr.returned == "always"
    if attr.returned == "request":
        return False
    return not _select(excluded or [], urn, attr).whole or attr.returned == "always"


def _extension(rtype: ResourceType, key: str) -> Schema | None:
    if not key.lower().startswith("urn:"):
        return None
    schema = rtype.schema_by_urn(key)
    if schema is None or schema.id == rtype.schema.id:
        return None
    return schema


def _project_extension(value: Any, schema: Schema, attributes: list | None,
                       excluded: list | None) -> dict:
    if not isinstance(value, dict):
        return {}
    out = {}
    for name, sub_value in value.items():
        attr = schema.attribute(name)
        if attr is None:
            if attributes is None:
                out[name] = sub_value
            continue
        kept = _project_attribute(sub_value, schema.id, attr, attributes, excluded)
        if not is_empty(kept):
            out[name] = kept
    return out


def _select(paths: Iterable[AttrPath], urn: str, attr: Attribute) -> _Selection:
    lowered_urn, lowered_name = urn.lower(), attr.name.lower()
    return _Selection(
        p for p in paths if p.schema.lower() == lowered_urn and p.attr.lower() == lowered_name
    )


def _project_attribute(value: Any, urn: str, attr: Attribute,
                       attributes: list | None, excluded: list | None) -> Any:
    if attr.returned == "never":
        return None
    if attr.returned == "always":
        return _strip_subs(value, attr, keep=None, drop=set(), requested=set())
    if attributes is not None:
        chosen = _select(attributes, urn, attr)
        if not chosen.named:
            return None
        if chosen.whole:
            return _strip_subs(value, attr, keep=None, drop=set(), requested=set())
        return _strip_subs(value, attr, keep=chosen.subs, drop=set(), requested=chosen.subs)
    if attr.returned == "request":
        return None
    dropped = _select(excluded or [], urn, attr)
    if dropped.whole:
        return None
    return _strip_subs(value, attr, keep=None, drop=dropped.subs, requested=set())


def _strip_subs(value: Any, attr: Attribute, keep: set[str] | None, drop: set[str],
                requested: set[str]) -> Any:
    """Apply sub-attribute selection and the sub-attributes' own `returned` rules."""
    if not attr.sub_attributes:
        return value
    if isinstance(value, list):
        kept = [_strip_one(v, attr, keep, drop, requested) for v in value]
        return [v for v in kept if not is_empty(v)]
    return _strip_one(value, attr, keep, drop, requested)


def _strip_one(element: Any, attr: Attribute, keep: set[str] | None, drop: set[str],
               requested: set[str]) -> Any:
    if not isinstance(element, dict):
        return element
    out = {}
    for name, sub_value in element.items():
        sub = attr.sub(name)
        lowered = name.lower()
        returned = sub.returned if sub else "default"
        if returned == "never":
            continue
        if returned != "always":
            if keep is not None and lowered not in keep:
                continue
            if lowered in drop:
                continue
            if returned == "request" and lowered not in requested:
                continue
        out[name] = sub_value
    return out


def _schemas_left(out: dict, rtype: ResourceType) -> list:
    """`schemas` minus the extensions whose object was projected away (declared ones, and
    those a provider's write kept undeclared)."""
    core = rtype.schema.id.lower()
    present = {key.lower() for key in out}
    return [
        urn for urn in out["schemas"]
        if not isinstance(urn, str) or urn.lower() == core or urn.lower() in present
    ]
