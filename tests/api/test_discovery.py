"""Discovery endpoints are generated from the schema definition."""

import pytest

from gateway.scim.schema import USER

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
    assert [a["name"] for a in user["attributes"]] == [a.name for a in USER.attributes]
    password = next(a for a in user["attributes"] if a["name"] == "password")
    assert password["returned"] == "never"


async def test_resource_types(gateway, idp):
    listed = (await gateway.scim(idp, "GET", "/ResourceTypes")).json()
    by_name = {t["name"]: t for t in listed["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schemaExtensions"][0]["schema"].endswith("enterprise:2.0:User")
    assert (await gateway.scim(idp, "GET", "/ResourceTypes/Group")).json()["endpoint"] == "/Groups"
