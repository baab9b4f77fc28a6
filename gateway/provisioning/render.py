"""Stored rows -> SCIM JSON."""

from __future__ import annotations

from gateway.scim.resource import schemas_of
from gateway.scim.schema import ResourceType
from gateway.store.base import ResourceRow


def etag(version: int) -> str:
    return f'W/"{version}"'


def render(row: ResourceRow, rtype: ResourceType, base_url: str,
           multi: list[dict] | None = None) -> dict:
    """The full SCIM representation. ``multi`` is a Group's members or a User's groups,
    None when the caller chose not to read membership rows."""
    body: dict = {"schemas": schemas_of(row.data, rtype), "id": row.id}
    body.update(row.data)
    if multi is not None and multi:
        body["members" if rtype.name == "Group" else "groups"] = [
            with_ref(item, base_url, rtype) for item in multi]
    body["meta"] = {
        "resourceType": rtype.name,
        "created": row.created,
        "lastModified": row.last_modified,
        "location": f"{base_url}{rtype.endpoint}/{row.id}",
        "version": etag(row.version),
    }
    return body


def with_ref(item: dict, base_url: str, rtype: ResourceType) -> dict:
    """A member or group value with its `$ref` (RFC 7643 4.1.2, 4.2): the resource's URI."""
    kind = item.get("type") if rtype.name == "Group" else "Group"
    endpoint = "/Groups" if kind == "Group" else "/Users"
    return {**item, "$ref": f"{base_url}{endpoint}/{item['value']}"}
