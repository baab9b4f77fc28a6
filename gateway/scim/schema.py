"""The one definition of the SCIM schemas this gateway serves.

Discovery (/Schemas, /ResourceTypes), attribute-name resolution, filters, PATCH paths and
projection all read the attribute metadata defined here (RFC 7643 sections 2, 4, 7, 8.7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import TypeVar

import msgspec

from gateway.scim.errors import ScimError

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
T = TypeVar("T")
R = TypeVar("R")


class Attribute(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str = "string"  # string boolean decimal integer dateTime reference complex binary
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"  # readOnly readWrite immutable writeOnly
    returned: str = "default"  # always never default request
    uniqueness: str = "none"  # none server global
    description: str = ""
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()

    def sub(self, name: str) -> Attribute | None:
        return _index(self.sub_attributes).get(name.lower())

    def to_scim(self) -> dict:
        out: dict = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description or self.name,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            out["subAttributes"] = [a.to_scim() for a in self.sub_attributes]
        return out


class Schema(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    # A provider's custom extension (gateway.scim.custom): it may hold attributes it does not
    # declare, kept as the IdP sent them.
    custom: bool = False

    def attribute(self, name: str) -> Attribute | None:
        return _index(self.attributes).get(name.lower())

    def to_scim(self, base_url: str = "", common: tuple[Attribute, ...] = ()) -> dict:
        """The /Schemas document; `common` lists common attributes first (see LISTED)."""
        return {
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_scim() for a in (*common, *self.attributes)],
            "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{self.id}"},
        }


def by_identity(fn: Callable[[T], R]) -> Callable[[T], R]:
    """Memoise a function of an immutable schema object by the object's identity.

    Hashing a schema compares it field by field, which costs more than the lookups this
    saves; the memo keeps the object alive, so its id is never reused for another one.
    """
    memo: dict[int, tuple[T, R]] = {}

    @wraps(fn)
    def cached(obj: T) -> R:
        hit = memo.get(id(obj))
        if hit is None or hit[0] is not obj:
            hit = memo[id(obj)] = (obj, fn(obj))
        return hit[1]

    return cached


@by_identity
def _index(attributes: tuple[Attribute, ...]) -> dict[str, Attribute]:
    """Attributes by lower-cased name: names are case-insensitive (RFC 7643 section 2.1)."""
    return {attr.name.lower(): attr for attr in attributes}


A = Attribute


def _multi(name: str, *subs: Attribute, types: tuple[str, ...] = (), **kw) -> Attribute:
    """A multi-valued complex attribute with the usual value/display/type/primary shape."""
    base = (
        A(name="value", **kw.pop("value_kw", {})),
        A(name="display", mutability="readWrite"),
        A(name="type", canonical_values=types),
        A(name="primary", type="boolean"),
    )
    return A(name=name, type="complex", multi_valued=True, sub_attributes=base + subs, **kw)


# Common attributes (RFC 7643 section 3.1): present on every resource, not in any schema's list.
ID = A(name="id", mutability="readOnly", returned="always", uniqueness="server", case_exact=True,
       description="Unique identifier of the resource, assigned by the gateway.")
EXTERNAL_ID = A(name="externalId", case_exact=True,
                description="Identifier of the resource as defined by the provisioning client.")
META = A(
    name="meta",
    type="complex",
    mutability="readOnly",
    sub_attributes=(
        A(name="resourceType", mutability="readOnly", case_exact=True),
        A(name="created", type="dateTime", mutability="readOnly"),
        A(name="lastModified", type="dateTime", mutability="readOnly"),
        A(name="location", type="reference", mutability="readOnly", case_exact=True,
          reference_types=("uri",)),
        A(name="version", mutability="readOnly", case_exact=True),
    ),
)
COMMON = (ID, EXTERNAL_ID, META)
# What /Schemas lists of them, in each resource type's core schema (RFC 7643 section 3.1 lets a
# schema list common attributes): clients that take their mapping targets from /Schemas, such
# as Entra's gallery validation, must find `externalId` there. Not `meta`: every sub-attribute
# is readOnly and set by the gateway, so listed it would only offer targets nothing can write.
LISTED = (ID, EXTERNAL_ID)

USER = Schema(
    id=USER_SCHEMA,
    name="User",
    description="User Account",
    attributes=(
        A(name="userName", required=True, uniqueness="server",
          description="Unique identifier for the User, unique per provider."),
        A(name="name", type="complex", sub_attributes=(
            A(name="formatted"), A(name="familyName"), A(name="givenName"),
            A(name="middleName"), A(name="honorificPrefix"), A(name="honorificSuffix"),
        )),
        A(name="displayName"),
        A(name="nickName"),
        A(name="profileUrl", type="reference", reference_types=("external",)),
        A(name="title"),
        A(name="userType"),
        A(name="preferredLanguage"),
        A(name="locale"),
        A(name="timezone"),
        A(name="active", type="boolean"),
        A(name="password", mutability="writeOnly", returned="never"),
        _multi("emails", types=("work", "home", "other")),
        _multi("phoneNumbers", types=("work", "home", "mobile", "fax", "pager", "other")),
        _multi("ims", types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        _multi("photos", types=("photo", "thumbnail"),
               value_kw={"type": "reference", "reference_types": ("external",)}),
        A(name="addresses", type="complex", multi_valued=True, sub_attributes=(
            A(name="formatted"), A(name="streetAddress"), A(name="locality"),
            A(name="region"), A(name="postalCode"), A(name="country"),
            A(name="type", canonical_values=("work", "home", "other")),
            A(name="primary", type="boolean"),
        )),
        A(name="groups", type="complex", multi_valued=True, mutability="readOnly",
          sub_attributes=(
              A(name="value", mutability="readOnly"),
              A(name="$ref", type="reference", mutability="readOnly",
                reference_types=("User", "Group")),
              A(name="display", mutability="readOnly"),
              A(name="type", mutability="readOnly", canonical_values=("direct", "indirect")),
          )),
        _multi("entitlements"),
        _multi("roles"),
        _multi("x509Certificates", value_kw={"type": "binary"}),
    ),
)

ENTERPRISE_USER = Schema(
    id=ENTERPRISE_SCHEMA,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        A(name="employeeNumber"),
        A(name="costCenter"),
        A(name="organization"),
        A(name="division"),
        A(name="department"),
        A(name="manager", type="complex", sub_attributes=(
            A(name="value"),
            A(name="$ref", type="reference", reference_types=("User",)),
            A(name="displayName", mutability="readOnly"),
        )),
    ),
)

GROUP = Schema(
    id=GROUP_SCHEMA,
    name="Group",
    description="Group",
    attributes=(
        A(name="displayName", required=True),
        A(name="members", type="complex", multi_valued=True, sub_attributes=(
            A(name="value", mutability="immutable"),
            A(name="$ref", type="reference", mutability="immutable",
              reference_types=("User", "Group")),
            A(name="display", mutability="readOnly"),
            A(name="type", mutability="immutable", canonical_values=("User", "Group")),
        )),
    ),
)


class ResourceType(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[tuple[Schema, bool], ...] = ()

    @property
    def schemas(self) -> Iterator[Schema]:
        yield self.schema
        for ext, _required in self.extensions:
            yield ext

    def schema_by_urn(self, urn: str) -> Schema | None:
        lowered = urn.lower()
        for schema in self.schemas:
            if schema.id.lower() == lowered:
                return schema
        return None

    def top_attribute(self, name: str) -> tuple[str, Attribute] | None:
        """The attribute a bare top-level name refers to, with the schema that owns it."""
        found = _index(COMMON).get(name.lower()) or self.schema.attribute(name)
        return (self.schema.id, found) if found else None

    def resolve(self, path: str) -> tuple[str, Attribute, Attribute | None]:
        """Resolve `name`, `name.sub` or `urn:...:name[.sub]` to (schema urn, attr, sub attr).

        Raises ScimError(400, invalidPath) for a name no schema of this type defines.
        """
        urn, rest = split_urn(path, self)
        if "." in rest:
            name, sub_name = rest.split(".", 1)
        else:
            name, sub_name = rest, None
        if urn is None or urn.lower() == self.schema.id.lower():
            found = self.top_attribute(name)
            if found is None:
                raise ScimError(400, f"Unknown attribute '{path}' for {self.name}", "invalidPath")
            urn, attr = found
        else:
            schema = self.schema_by_urn(urn)
            named = schema.attribute(name) if schema else None
            if schema is None or named is None:
                raise ScimError(400, f"Unknown attribute '{path}' for {self.name}", "invalidPath")
            urn, attr = schema.id, named
        sub = None
        if sub_name is not None:
            sub = attr.sub(sub_name)
            if sub is None:
                raise ScimError(400, f"Unknown attribute '{path}' for {self.name}", "invalidPath")
        return urn, attr, sub

    def to_scim(self, base_url: str = "") -> dict:
        return {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": [
                {"schema": ext.id, "required": required} for ext, required in self.extensions
            ],
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url}/ResourceTypes/{self.name}",
            },
        }


def split_urn(path: str, rtype: ResourceType) -> tuple[str | None, str]:
    """Split `urn:...:Schema:attr.sub` into the schema URN and the attribute part.

    The URN is matched against the schemas of the resource type, longest first, because an
    attribute name cannot be told apart from a URN segment by syntax alone.
    """
    if not path.lower().startswith("urn:"):
        return None, path
    lowered = path.lower()
    for schema in sorted(rtype.schemas, key=lambda s: -len(s.id)):
        prefix = schema.id.lower() + ":"
        if lowered.startswith(prefix):
            return schema.id, path[len(prefix):]
    # A URN of no known schema: the last segment is the attribute.
    urn, _, rest = path.rpartition(":")
    return urn, rest


USER_TYPE = ResourceType(
    name="User",
    endpoint="/Users",
    description="User Account",
    schema=USER,
    extensions=((ENTERPRISE_USER, False),),
)
GROUP_TYPE = ResourceType(
    name="Group",
    endpoint="/Groups",
    description="Group",
    schema=GROUP,
)


class Registry(msgspec.Struct, kw_only=True):
    """The resource types one app serves; plugins may add schema extensions at startup."""

    types: dict[str, ResourceType]

    def by_endpoint(self, endpoint: str) -> ResourceType | None:
        for rtype in self.types.values():
            if rtype.endpoint.lower() == endpoint.lower():
                return rtype
        return None

    def schemas(self) -> list[Schema]:
        seen: dict[str, Schema] = {}
        for rtype in self.types.values():
            for schema in rtype.schemas:
                seen.setdefault(schema.id, schema)
        return list(seen.values())

    def schema_to_scim(self, schema: Schema, base_url: str = "") -> dict:
        """A schema as /Schemas shows it: a resource type's core schema lists `id` and
        `externalId` too; extensions list only their own attributes."""
        core = any(rtype.schema.id == schema.id for rtype in self.types.values())
        return schema.to_scim(base_url, LISTED if core else ())

    def extend(self, type_name: str, schema: Schema, required: bool = False) -> None:
        rtype = self.types[type_name]
        if rtype.schema_by_urn(schema.id):
            return
        self.types[type_name] = msgspec.structs.replace(
            rtype, extensions=rtype.extensions + ((schema, required),)
        )


def default_registry() -> Registry:
    return Registry(types={"User": USER_TYPE, "Group": GROUP_TYPE})


def iter_attributes(attrs: Iterable[Attribute]) -> Iterator[Attribute]:
    for attr in attrs:
        yield attr
        yield from attr.sub_attributes
