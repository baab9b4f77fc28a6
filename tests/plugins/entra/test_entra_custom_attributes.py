"""Entra's custom extension attributes (Microsoft Learn, "Customize user provisioning
attribute-mappings": `urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:
CustomAttribute`) go through the Entra dialect like its other attributes: a declared boolean
sent as "True" / "False" (apps without the aadOptscim062020 flag) is a boolean, in a POST and
in a PATCH by path."""

from __future__ import annotations

import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
EXT = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def test_entra_string_booleans_of_a_declared_custom_attribute(database):
    async with running(database, enabled=["entra"]) as gw:
        idp = await gw.provider("entra", plugin="entra")
        r = await gw.admin_api("POST", f"/providers/{idp.id}/custom-attributes",
                               {"schema": EXT, "name": "isManager", "type": "boolean"})
        assert r.status_code == 201, r.text
        r = await gw.scim(idp, "POST", "/Users", {
            "schemas": [CORE], "userName": "a@contoso.example", "active": "True",
            EXT: {"isManager": "True"}})
        assert r.status_code == 201, r.text
        assert r.json()[EXT] == {"isManager": True}
        r = await gw.scim(idp, "PATCH", f"/Users/{r.json()['id']}", {
            "schemas": [PATCH], "Operations": [
                {"op": "Replace", "path": f"{EXT}:isManager", "value": "False"}]})
        assert r.status_code == 200, r.text
        assert r.json()[EXT] == {"isManager": False}
        found = await gw.scim(idp, "GET", "/Users",
                              params={"filter": f"{EXT}:isManager eq false"})
        assert found.json()["totalResults"] == 1
