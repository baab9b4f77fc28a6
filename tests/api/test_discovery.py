"""Discovery endpoints are generated from the schema definition."""

import pytest

from gateway.scim.schema import ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_OP, USER, USER_SCHEMA
from gateway.testing import scim_user

pytestmark = pytest.mark.anyio


async def test_service_provider_config(gateway, idp):
    spc = (await gateway.scim(idp, "GET", "/ServiceProviderConfig")).json()
    assert spc["patch"]["supported"] is True
    assert spc["filter"] == {"supported": True, "maxResults": gateway.gw.settings.max_page_size}
    assert spc["etag"]["supported"] is True
    assert spc["changePassword"]["supported"] is False
    assert spc["authenticationSchemes"][0]["type"] == "oauthbearertoken"


async def test_schemas_follow_the_definition(gateway, idp):
    listed = (await gateway.scim(idp, "GET", "/Schemas")).json()
    ids = {s["id"] for s in listed["Resources"]}
    assert {"urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"} <= ids
    user = (await gateway.scim(idp, "GET", f"/Schemas/{USER.id}")).json()
    assert [a["name"] for a in user["attributes"]] == \
        ["id", "externalId"] + [a.name for a in USER.attributes]
    password = next(a for a in user["attributes"] if a["name"] == "password")
    assert password["returned"] == "never"


# RFC 7643 section 3.1 lets a schema list common attributes; IdPs that take their mapping
# targets from /Schemas (Entra) must find externalId there.
ID = {"name": "id", "type": "string", "multiValued": False, "required": False,
      "caseExact": True, "mutability": "readOnly", "returned": "always", "uniqueness": "server"}
EXTERNAL_ID = {"name": "externalId", "type": "string", "multiValued": False, "required": False,
               "caseExact": True, "mutability": "readWrite", "returned": "default",
               "uniqueness": "none"}


async def test_core_schemas_list_id_and_external_id_once(gateway, idp):
    listed = (await gateway.scim(idp, "GET", "/Schemas")).json()["Resources"]
    by_id = {s["id"]: s for s in listed}
    for urn in (USER_SCHEMA, GROUP_SCHEMA):
        attrs = by_id[urn]["attributes"]
        names = [a["name"] for a in attrs]
        assert names.count("id") == 1 and names.count("externalId") == 1
        assert {k: attrs[0][k] for k in ID} == ID
        assert {k: attrs[1][k] for k in EXTERNAL_ID} == EXTERNAL_ID
        assert "meta" not in names
        one = (await gateway.scim(idp, "GET", f"/Schemas/{urn}")).json()
        assert one["attributes"] == attrs
    extension = [a["name"] for a in by_id[ENTERPRISE_SCHEMA]["attributes"]]
    assert "id" not in extension and "externalId" not in extension


async def test_listing_them_changes_nothing_else(gateway, idp):
    # Projection, PATCH and validation read the same attributes as before: once each.
    created = await gateway.scim(idp, "POST", "/Users", scim_user(externalId="ext-1"))
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    got = (await gateway.scim(idp, "GET", f"/Users/{uid}?attributes=externalId")).json()
    assert set(got) == {"schemas", "id", "externalId"} and got["externalId"] == "ext-1"
    got = (await gateway.scim(idp, "GET", f"/Users/{uid}?excludedAttributes=externalId")).json()
    assert "externalId" not in got and got["id"] == uid
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "id", "value": "x"}]})
    assert r.status_code == 400 and r.json()["scimType"] == "mutability"
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "externalId", "value": "ext-2"}]})
    assert r.status_code == 200, r.text
    assert r.json()["externalId"] == "ext-2" and r.json()["id"] == uid


async def test_resource_types(gateway, idp):
    listed = (await gateway.scim(idp, "GET", "/ResourceTypes")).json()
    by_name = {t["name"]: t for t in listed["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schemaExtensions"][0]["schema"].endswith("enterprise:2.0:User")
    assert (await gateway.scim(idp, "GET", "/ResourceTypes/Group")).json()["endpoint"] == "/Groups"
