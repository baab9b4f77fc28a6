"""A provider's custom attributes: what an admin declares (schema URN, name, type), the
schema extension the declarations become, the type the values seen suggest, and what a
provider's write does with an attribute that nothing declares.

Entra sends a custom attribute under `urn:ietf:params:scim:schemas:extension:<Name>:2.0:User`
(its attribute list names it `urn:...:2.0:User:<attribute>`); Okta under the External
namespace its Profile Editor gives the attribute, any URN. Both send the extension as an
object keyed by its URN in POST and PUT bodies, and Entra names the whole path in PATCH.

A write of a provider's IdP keeps an attribute no schema declares, by default, as it was
received: under an extension URN the provider has not declared, or under one of its custom
extensions (the IdP's namespace may gain attributes before the admin declares them). An
unknown attribute of a fixed schema (the core schemas, the enterprise extension, a plugin's
extension) is refused as always: a typo there has no place to go.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from gateway.errors import Conflict, GatewayError
from gateway.scim.errors import ScimError
from gateway.scim.schema import Attribute, Registry, ResourceType, Schema, split_urn

TYPES = ("string", "boolean", "integer", "decimal", "dateTime", "reference", "binary",
         "complex")
_TYPE_NAMES = {t.lower(): t for t in TYPES}
# RFC 7643 section 2.1: ATTRNAME = ALPHA *(nameChar); nameChar = "-" / "_" / DIGIT / ALPHA.
ATTRNAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,127}\Z")
# RFC 8141: urn:<NID>:<NSS>. The NSS is limited to what a filter's SQL may name
# (gateway.store.filter_sql.SAFE_NAME): letters, digits and _ $ . - between colons.
URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}(:[A-Za-z0-9_$.\-]+)+\Z", re.IGNORECASE)
MAX_URN = 256
MAX_DESCRIPTION = 500
MAX_DECLARED = 200  # declarations per provider
# The RFC's own namespaces: their schemas are fixed, never a provider's to extend.
RESERVED = ("urn:ietf:params:scim:schemas:core:", "urn:ietf:params:scim:api:")


class SubAttribute(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    type: str = "string"
    multi_valued: bool = False
    case_exact: bool = False


class Declaration(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One custom attribute of a provider, as the admin declares it."""

    schema: str  # the extension's URN
    name: str
    resource_type: str = "User"
    type: str = "string"
    multi_valued: bool = False
    case_exact: bool = False
    description: str = ""
    sub_attributes: tuple[SubAttribute, ...] = ()

    @property
    def path(self) -> str:
        return f"{self.schema}:{self.name}"

    @property
    def key(self) -> str:
        """What two declarations of one attribute share: names and URNs ignore case."""
        return self.path.lower()


def is_extension_urn(text: str) -> bool:
    """A URN a provider's extension may have: well formed, and outside the RFC's own."""
    return len(text) <= MAX_URN and URN.match(text) is not None \
        and not text.lower().startswith(RESERVED)


def refuse(detail: str) -> GatewayError:
    return GatewayError(detail)


def type_name(text: str, what: str) -> str:
    found = _TYPE_NAMES.get(str(text).lower())
    if found is None:
        raise refuse(f"{what}: no type '{text}'; the types are {', '.join(TYPES)}")
    return found


def _overlaps(a: str, b: str) -> bool:
    """One URN begins with the other and a colon: a path could not tell them apart."""
    a, b = a.lower(), b.lower()
    return a.startswith(b + ":") or b.startswith(a + ":")


def check(decl: Declaration, base: Registry, others: Iterable[Declaration]) -> Declaration:
    """The declaration as it is stored (types in their canonical spelling); a GatewayError
    (400) says what is wrong. ``others`` are the provider's other declarations."""
    rtype = base.types.get(decl.resource_type)
    if rtype is None:
        raise refuse(f"resource_type: '{decl.resource_type}' is not one of "
                     f"{', '.join(base.types)}")
    urn = decl.schema.strip()
    if not is_extension_urn(urn):
        raise refuse(f"schema: '{decl.schema[:80]}' is not an extension schema URN such as "
                     "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User "
                     "(letters, digits and _ $ . - between colons, at most 256 characters; "
                     "not one of the RFC's core or message URNs)")
    for schema in base.schemas():
        if schema.id.lower() == urn.lower():
            raise refuse(f"schema: {schema.id} is the gateway's own {schema.name} schema, "
                         "whose attributes are fixed; declare custom attributes under a URN "
                         "of your own")
        if _overlaps(schema.id, urn):
            raise refuse(f"schema: '{urn}' and the gateway's {schema.id} begin alike; a path "
                         "could not tell them apart")
    for other in others:
        if other.key == decl.key:
            continue
        if other.schema.lower() == urn.lower():
            urn = other.schema  # one spelling per extension
            if other.resource_type != decl.resource_type:
                raise refuse(f"schema: {other.schema} extends {other.resource_type}; a schema "
                             "extends one resource type")
        elif _overlaps(other.schema, urn):
            raise refuse(f"schema: '{urn}' and {other.schema}, declared already, begin alike; "
                         "a path could not tell them apart")
    if not ATTRNAME.match(decl.name):
        raise refuse(f"name: '{decl.name[:80]}' is not an attribute name (RFC 7643: a letter, "
                     "then letters, digits, - or _; at most 128)")
    kind = type_name(decl.type, "type")
    if len(decl.description) > MAX_DESCRIPTION:
        raise refuse(f"description: at most {MAX_DESCRIPTION} characters")
    subs = check_subs(decl.sub_attributes, kind)
    return msgspec.structs.replace(decl, schema=urn, type=kind, sub_attributes=subs)


def check_subs(subs: tuple[SubAttribute, ...], kind: str) -> tuple[SubAttribute, ...]:
    if kind != "complex":
        if subs:
            raise refuse("sub_attributes: only a complex attribute has sub-attributes")
        return ()
    if not subs:
        raise refuse("sub_attributes: a complex attribute needs at least one sub-attribute")
    seen: set[str] = set()
    out = []
    for sub in subs:
        if not ATTRNAME.match(sub.name):
            raise refuse(f"sub_attributes: '{sub.name[:80]}' is not an attribute name")
        if sub.name.lower() in seen:
            raise refuse(f"sub_attributes: '{sub.name}' is listed twice")
        seen.add(sub.name.lower())
        sub_kind = type_name(sub.type, f"sub_attributes.{sub.name}.type")
        if sub_kind == "complex":
            raise refuse(f"sub_attributes.{sub.name}: a sub-attribute cannot be complex "
                         "(RFC 7643 section 2.3.8)")
        out.append(msgspec.structs.replace(sub, type=sub_kind))
    return tuple(out)


def duplicate(decl: Declaration) -> Conflict:
    return Conflict(f"{decl.path} is declared already; change it instead")


# The schema extension of the declarations ---------------------------------------------------

def attribute_of(decl: Declaration | SubAttribute, description: str = "") -> Attribute:
    subs = tuple(attribute_of(s) for s in getattr(decl, "sub_attributes", ()))
    return Attribute(name=decl.name, type=decl.type, multi_valued=decl.multi_valued,
                     case_exact=decl.case_exact, description=description,
                     sub_attributes=subs,
                     reference_types=("external",) if decl.type == "reference" else ())


def schema_name(urn: str) -> str:
    """A short name for an extension: `...:extension:CustomExtensionName:2.0:User` ->
    CustomExtensionName; `urn:ietf:params:scim:schemas:custom:Space` -> Space."""
    skip = {"urn", "ietf", "params", "scim", "schemas", "extension", "user", "group"}
    words = [w for w in urn.split(":") if w.lower() not in skip and not w[:1].isdigit()]
    return words[-1] if words else "Custom"


def extensions(declared: Iterable[Declaration]) -> dict[str, list[Schema]]:
    """The declarations as schema extensions, by resource type, in declaration order."""
    grouped: dict[tuple[str, str], list[Declaration]] = {}
    for decl in declared:
        grouped.setdefault((decl.resource_type, decl.schema), []).append(decl)
    out: dict[str, list[Schema]] = {}
    for (type_name_, urn), decls in grouped.items():
        out.setdefault(type_name_, []).append(Schema(
            id=urn, name=schema_name(urn), custom=True,
            description="Custom attributes declared for this provider",
            attributes=tuple(attribute_of(d, d.description) for d in decls)))
    return out


def registry_with(base: Registry, declared: Iterable[Declaration]) -> Registry:
    """The app's registry with a provider's custom extensions (not required) added."""
    types = dict(base.types)
    for type_name_, schemas in extensions(declared).items():
        rtype = types[type_name_]
        types[type_name_] = msgspec.structs.replace(
            rtype, extensions=rtype.extensions + tuple((s, False) for s in schemas))
    return Registry(types=types)


# What the values seen suggest -----------------------------------------------------------------

# The kinds of value seen, as bits: the store ORs them together in one statement.
KIND_BITS = {"boolean": 1, "integer": 2, "decimal": 4, "dateTime": 8, "string": 16,
             "complex": 32}
MULTI_BIT = 64


def _looks_like_time(text: str) -> bool:
    if "T" not in text[:11] or len(text) < 16:
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _kind(value: Any) -> int:
    if isinstance(value, bool):
        return KIND_BITS["boolean"]
    if isinstance(value, int):
        return KIND_BITS["integer"]
    if isinstance(value, float):
        return KIND_BITS["decimal"]
    if isinstance(value, dict):
        return KIND_BITS["complex"]
    if isinstance(value, str):
        return KIND_BITS["dateTime" if _looks_like_time(value) else "string"]
    return 0


def kinds_of(value: Any) -> int:
    """The kinds of value one attribute's value holds (MULTI_BIT for a list)."""
    if isinstance(value, list):
        bits = MULTI_BIT
        for item in value:
            bits |= _kind(item)
        return bits
    return _kind(value)


def type_of(bits: int) -> str:
    """The one type every kind seen fits: integers and decimals are decimal; anything else
    mixed, or nothing seen, is string."""
    bits &= ~MULTI_BIT
    for name, bit in KIND_BITS.items():
        if bits == bit:
            return name
    if bits == KIND_BITS["integer"] | KIND_BITS["decimal"]:
        return "decimal"
    return "string"


def suggest(path: str, bits: int, example: Any, resource_type: str = "User") -> Declaration:
    """The declaration an undeclared attribute's values suggest (its type from the kinds
    seen; a complex one's sub-attributes from its example value)."""
    urn, _, name = path.rpartition(":")
    kind = type_of(bits)
    subs: tuple[SubAttribute, ...] = ()
    if kind == "complex":
        sample = example[0] if isinstance(example, list) and example else example
        subs = tuple(SubAttribute(name=k, type=_sub_type(v),
                                  multi_valued=isinstance(v, list))
                     for k, v in (sample.items() if isinstance(sample, dict) else ())
                     if ATTRNAME.match(k))
        if not subs:
            kind = "string"
    return Declaration(schema=urn, name=name, resource_type=resource_type, type=kind,
                       multi_valued=bool(bits & MULTI_BIT), sub_attributes=subs)


def _sub_type(value: Any) -> str:
    found = type_of(kinds_of(value))
    return "string" if found == "complex" else found


# Attributes nothing declares, in a provider's writes ----------------------------------------

class Undeclared:
    """What one write of a provider does with the attributes that no schema of it declares:
    with ``keep`` they are stored as received and noted in ``seen`` (lower-cased path ->
    (path, value)); otherwise the write is refused, naming the attribute and ``where`` it
    can be declared."""

    def __init__(self, keep: bool, where: str = "") -> None:
        self.keep = keep
        self.where = where
        self.seen: dict[str, tuple[str, Any]] = {}

    def refusal(self, path: str, scim_type: str) -> ScimError:
        return ScimError(400, f"'{path}' is not declared for this provider, which refuses "
                              f"undeclared attributes{self.where}", scim_type)

    def allow(self, path: str, value: Any, scim_type: str) -> None:
        """Keep a (non-empty) value of an undeclared attribute, or refuse it."""
        if not self.keep:
            raise self.refusal(path, scim_type)
        self.seen[path.lower()] = (path, value)

    @property
    def paths(self) -> list[str]:
        return sorted(path for path, _ in self.seen.values())


def open_urn(urn: str, rtype: ResourceType) -> str | None:
    """The URN an undeclared attribute under `urn` is kept under: a custom extension of the
    type (its spelling), or a URN no schema of the type has; None for a fixed schema, whose
    unknown attributes are refused as always."""
    schema = rtype.schema_by_urn(urn)
    if schema is not None:
        return schema.id if schema.custom else None
    return urn if is_extension_urn(urn) else None


def is_container(key: str, rtype: ResourceType) -> bool:
    """Whether a URN-qualified key holding an object is an extension of its own rather than
    a path into one of the type's schemas (`urn:...:User:address` of a declared complex
    attribute)."""
    urn, _rest = split_urn(key, rtype)
    return urn is None or rtype.schema_by_urn(urn) is None


def undeclared_path(text: str, rtype: ResourceType) -> tuple[str, str, str | None] | None:
    """(URN, attribute, sub-attribute) of a path under an open extension (see `open_urn`)
    that no declaration names; None for any other path. A path under an open extension that
    names its attribute with a filter or an odd name answers invalidPath: only a declared
    attribute has sub-attributes to filter on."""
    if text[:4].lower() != "urn:":
        return None
    urn, rest = split_urn(text, rtype)
    if urn is None:
        return None
    kept = open_urn(urn, rtype)
    if kept is None:
        return None
    name, dot, sub = rest.partition(".")
    schema = rtype.schema_by_urn(kept)
    if schema is not None and schema.attribute(name) is not None:
        return None  # declared: the schema answers
    if not ATTRNAME.match(name) or (dot and not ATTRNAME.match(sub)):
        raise ScimError(400, f"'{text}' is not declared for this provider; only a declared "
                             "attribute can be named with a filter or more than one "
                             "sub-attribute", "invalidPath")
    return kept, name, sub or None


def extension_data(data: dict, rtype: ResourceType) -> dict:
    """A resource's extensions that `rtype` (the app's schemas) does not know: what its
    provider sent of its custom attributes, declared or not, by URN."""
    return {key: value for key, value in data.items()
            if key[:4].lower() == "urn:" and isinstance(value, dict)
            and rtype.schema_by_urn(key) is None}


def is_secret(name: str, rtype: ResourceType) -> bool:
    """A name the type keeps nowhere (`password`): an undeclared one is dropped like it."""
    found = rtype.schema.attribute(name)
    return found is not None and (found.returned == "never" or found.mutability == "writeOnly")
