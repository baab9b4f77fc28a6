"""Entra clears an attribute by sending an empty string (the null-update and manager tests of
Microsoft's gallery validation suite): every value the entra plugin converts must read "" as
"no value", not keep the old one and not refuse it."""

from __future__ import annotations

import pytest

from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MANAGER = f"{ENT}:manager"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
async def entra(database):
    async with running(database, enabled=["entra"]) as gw:
        yield gw, await gw.provider("entra", plugin="entra")


async def create(gw, provider, name, **extra):
    r = await gw.scim(provider, "POST", "/Users", user_body(name, **extra))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def patched(gw, provider, uid, *ops):
    r = await gw.scim(provider, "PATCH", f"/Users/{uid}", {"schemas": [PATCH],
                                                           "Operations": list(ops)})
    assert r.status_code in (200, 204), r.text
    return (await gw.scim(provider, "GET", f"/Users/{uid}")).json()


@pytest.mark.parametrize("op", [
    {"op": "replace", "path": MANAGER, "value": ""},
    {"op": "Replace", "path": MANAGER, "value": {"value": ""}},
    {"op": "Add", "path": MANAGER, "value": ""},
    {"op": "replace", "value": {MANAGER: ""}},
    {"op": "replace", "value": {ENT: {"manager": ""}}},
    {"op": "replace", "path": ENT, "value": {"manager": {"value": ""}}},
])
async def test_an_empty_manager_clears_it(entra, op):
    gw, p = entra
    boss = await create(gw, p, "boss@contoso.example")
    uid = await create(gw, p, "adele@contoso.example",
                       **{ENT: {"manager": boss, "department": "Retail"}})
    user = await patched(gw, p, uid, op)
    assert "manager" not in user[ENT], user
    assert user[ENT]["department"] == "Retail"


async def test_an_empty_manager_on_create_is_no_manager(entra):
    gw, p = entra
    r = await gw.scim(p, "POST", "/Users", user_body("adele@contoso.example",
                                                      **{ENT: {"manager": "",
                                                               "department": "Retail"}}))
    assert r.status_code == 201, r.text
    assert r.json()[ENT] == {"department": "Retail"}


@pytest.mark.parametrize("op", [
    {"op": "replace", "path": 'emails[type eq "work"].primary', "value": ""},
    {"op": "Replace", "value": {'emails[type eq "work"].primary': ""}},
])
async def test_an_empty_boolean_clears_it(entra, op):
    gw, p = entra
    uid = await create(gw, p, "adele@contoso.example")
    user = await patched(gw, p, uid, op)
    assert user["emails"] == [{"value": "adele@contoso.example", "type": "work"}]


async def test_the_strings_entra_sends_still_convert(entra):
    gw, p = entra
    boss = await create(gw, p, "boss@contoso.example")
    uid = await create(gw, p, "adele@contoso.example")
    user = await patched(gw, p, uid, {"op": "Add", "path": MANAGER, "value": boss},
                         {"op": "Replace", "path": "active", "value": "False"})
    assert user[ENT]["manager"]["value"] == boss and user["active"] is False
