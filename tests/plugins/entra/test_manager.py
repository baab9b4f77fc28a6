"""The manager in the shape of the tutorial's Example 5 (Microsoft's "request from Microsoft
Entra ID to an SCIM endpoint to update a user"): the unqualified path `manager` and the value
as a one-element list of {"$ref", "value"}."""

from __future__ import annotations

import pytest

from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
async def two(database):
    async with running(database, enabled=["entra"]) as gw:
        yield gw, await gw.provider("entra", plugin="entra"), await gw.provider("plain")


async def users(gw, provider):
    ids = []
    for name in ("adele@contoso.example", "boss@contoso.example"):
        r = await gw.scim(provider, "POST", "/Users", user_body(name))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def example5(boss, op="Add", path="manager"):
    return {"schemas": [PATCH], "Operations": [{"op": op, "path": path, "value": [
        {"$ref": f"http://localhost/scim/Users/{boss}", "value": boss}]}]}


@pytest.mark.parametrize("path", ["manager", "Manager", f"{ENT}:manager"])
async def test_a_one_element_list_on_the_manager_path(two, path):
    gw, entra, _ = two
    uid, boss = await users(gw, entra)
    r = await gw.scim(entra, "PATCH", f"/Users/{uid}", example5(boss, path=path))
    assert r.status_code in (200, 204), r.text
    got = (await gw.scim(entra, "GET", f"/Users/{uid}")).json()
    assert got[ENT]["manager"] == {"value": boss, "$ref": f"http://localhost/scim/Users/{boss}"}


async def test_other_unqualified_enterprise_names(two):
    gw, entra, _ = two
    uid, _boss = await users(gw, entra)
    r = await gw.scim(entra, "PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "department", "value": "Retail"},
        {"op": "Replace", "value": {"division": "West", "title": "Lead"}}]})
    assert r.status_code in (200, 204), r.text
    got = (await gw.scim(entra, "GET", f"/Users/{uid}")).json()
    assert got[ENT] == {"department": "Retail", "division": "West"} and got["title"] == "Lead"


async def test_an_empty_list_clears_the_manager(two):
    gw, entra, _ = two
    uid, boss = await users(gw, entra)
    await gw.scim(entra, "PATCH", f"/Users/{uid}", example5(boss))
    r = await gw.scim(entra, "PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "manager", "value": []}]})
    assert r.status_code in (200, 204), r.text
    assert ENT not in (await gw.scim(entra, "GET", f"/Users/{uid}")).json()


async def test_the_core_keeps_refusing_both_for_other_providers(two):
    gw, _, plain = two
    uid, boss = await users(gw, plain)
    r = await gw.scim(plain, "PATCH", f"/Users/{uid}", example5(boss))
    assert r.status_code == 400 and r.json()["scimType"] == "invalidPath", r.text
    r = await gw.scim(plain, "PATCH", f"/Users/{uid}", example5(boss, path=f"{ENT}:manager"))
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue", r.text
