"""Each dialect rule holds only for a provider of its plugin: the same request from a
provider of the other plugin, or of none, gets the core's strict RFC 7644 answer."""

from __future__ import annotations

import pytest

from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTRA_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


@pytest.fixture
async def three(database):
    async with running(database, enabled=["entra", "okta"]) as gw:
        yield gw, {
            "entra": await gw.provider("entra", plugin="entra"),
            "okta": await gw.provider("okta", auth="basic", plugin="okta"),
            "plain": await gw.provider("plain"),
        }


async def create(gw, provider, name="adele@contoso.example", **extra):
    r = await gw.scim(provider, "POST", "/Users", user_body(name, **extra))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def op(**kw):
    return {"schemas": [PATCH], "Operations": [kw]}


async def test_active_as_a_string(three):
    gw, p = three
    for name in ("okta", "plain"):
        uid = await create(gw, p[name])
        r = await gw.scim(p[name], "PATCH", f"/Users/{uid}", op(op="replace", path="active",
                                                               value="False"))
        assert r.status_code == 400 and r.json()["scimType"] == "invalidValue", r.text
        assert (await gw.scim(p[name], "GET", f"/Users/{uid}")).json()["active"] is True
        created = await gw.scim(p[name], "POST", "/Users", user_body("b@contoso.example",
                                                                    active="False"))
        assert created.status_code == 400 and created.json()["scimType"] == "invalidValue"
    uid = await create(gw, p["entra"])
    r = await gw.scim(p["entra"], "PATCH", f"/Users/{uid}", op(op="Replace", path="active",
                                                              value="False"))
    assert r.status_code in (200, 204), r.text
    assert (await gw.scim(p["entra"], "GET", f"/Users/{uid}")).json()["active"] is False


async def test_manager_as_a_bare_id(three):
    gw, p = three
    for name in ("okta", "plain"):
        boss = await create(gw, p[name], "boss@contoso.example")
        r = await gw.scim(p[name], "POST", "/Users", user_body(
            "adele@contoso.example", **{ENT: {"manager": boss}}))
        assert r.status_code == 400 and r.json()["scimType"] == "invalidValue", r.text
    boss = await create(gw, p["entra"], "boss@contoso.example")
    r = await gw.scim(p["entra"], "POST", "/Users", user_body(
        "adele@contoso.example", **{ENT: {"manager": boss}}))
    assert r.status_code == 201, r.text
    assert r.json()[ENT]["manager"]["value"] == boss


async def test_entra_group_schema_urn(three):
    gw, p = three
    body = {"schemas": [GROUP, ENTRA_GROUP], "displayName": "Sales"}
    for name in ("okta", "plain"):
        r = await gw.scim(p[name], "POST", "/Groups", body)
        assert r.status_code == 400 and r.json()["scimType"] == "invalidValue", r.text
        assert ENTRA_GROUP in r.json()["detail"]
    r = await gw.scim(p["entra"], "POST", "/Groups", body)
    assert r.status_code == 201, r.text
    assert r.json()["schemas"] == [GROUP]


async def test_okta_rules_apply_to_okta_only(three):
    gw, p = three
    for name in ("entra", "plain"):
        r = await gw.scim(p[name], "POST", "/Users", user_body(
            "nestor", emails=[{"value": "n@elsewhere.example", "primary": True}],
            addresses=[{"country": "USA"}]))
        assert r.status_code == 201, r.text
    r = await gw.scim(p["okta"], "POST", "/Users", user_body("nestor"))
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue"


@pytest.mark.parametrize("body,attribute,rule", [
    (user_body("nestor"), "userName", "valid email address"),
    (user_body("nestor@fabrikam.example",
               emails=[{"value": "nw@elsewhere.example", "primary": True}]),
     "emails[primary eq true].value", "identical to userName"),
    (user_body("nestor@fabrikam.example", addresses=[{"primary": True, "country": "USA"}]),
     "addresses[primary eq true].country", "ISO 3166-1 alpha-2"),
    (user_body("nestor@fabrikam.example", addresses=[{"type": "home", "country": "ZZ"}]),
     "addresses.country", "ISO 3166-1 alpha-2"),
])
async def test_okta_refusals_name_attribute_and_rule(three, body, attribute, rule):
    gw, p = three
    r = await gw.scim(p["okta"], "POST", "/Users", body)
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue"
    assert r.json()["detail"].startswith(attribute + ":") and rule in r.json()["detail"]
    listed = await gw.scim(p["okta"], "GET", "/Users")
    assert listed.json()["totalResults"] == 0
    log = await gw.client.get("/admin/v1/sync-log", params={"provider": p["okta"].id},
                              headers=gw.admin)
    assert [e["outcome"] for e in log.json()["items"]] == ["error"]  # logged, nothing written


async def test_okta_test_api_credentials(three):
    gw, p = three
    ok = await gw.scim(p["okta"], "GET", "/Users?startIndex=1&count=1")
    assert ok.status_code == 200 and ok.json()["Resources"] == []
    bare = await gw.client.get(p["okta"].base + "/Users?startIndex=1&count=1")
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"].startswith("Basic")
    assert "credential" in bare.json()["detail"]
    wrong = await gw.client.get(p["okta"].base + "/Users", headers={
        "Authorization": "Basic " + __import__("base64").b64encode(
            f"{p['okta'].credentials['Username']}:wrong".encode()).decode()})
    assert wrong.status_code == 401
