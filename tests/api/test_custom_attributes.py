"""Custom attributes end to end, through real HTTP on both stores, in the IdPs' own shapes.

Entra names a custom attribute `urn:ietf:params:scim:schemas:extension:CustomExtensionName:
2.0:User:CustomAttribute`, sends it in POST bodies as an object keyed by the extension's URN
without listing that URN in `schemas`, and names the whole path in PATCH (Microsoft Learn,
"Customize user provisioning attribute-mappings": Provisioning a custom extension attribute
to a SCIM compliant application; its example user carries `"CustomAttribute": "701984"`).
Okta sends each Profile Editor attribute under its External namespace, any URN (Okta
support, "Custom Schema Attribute is Not Being Sent to Provisioning Servers":
`"externalNamespace": "urn:ietf:params:scim:schemas:custom:Space"`), in POST and in the full
PUT of a profile update.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from gateway.testing import Harness, Provider, running, scim_user

pytestmark = pytest.mark.anyio

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTRA = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
OKTA = "urn:ietf:params:scim:schemas:custom:Space"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def entra_user(name: str, **extension: Any) -> dict:
    """Entra's create: the custom extension is sent, its URN is not in `schemas`."""
    return {"schemas": [CORE, ENTERPRISE], "externalId": name.split("@")[0],
            "userName": name, "active": True, "displayName": name,
            "emails": [{"primary": True, "type": "work", "value": name}],
            "name": {"formatted": "Barbara Jensen", "familyName": "Jensen",
                     "givenName": "Barbara"},
            ENTERPRISE: {"department": "Tour Operations"},
            ENTRA: extension}


def entra_patch(*ops: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


def okta_user(name: str, **custom: Any) -> dict:
    return {"schemas": [CORE, OKTA], "userName": name,
            "name": {"givenName": "Isaiah", "familyName": "Langer"},
            "emails": [{"primary": True, "value": name, "type": "work"}],
            "displayName": "Isaiah Langer", "locale": "en-US", "externalId": "00ujl29u0le5T6",
            "groups": [], "password": "t7Qz#1mz050nq", "active": True, OKTA: custom}


async def declare(gw: Harness, idp: Provider, **decl: Any) -> dict:
    r = await gw.admin_api("POST", f"/providers/{idp.id}/custom-attributes", decl)
    assert r.status_code == 201, r.text
    return r.json()


async def attributes(gw: Harness, idp: Provider) -> dict:
    r = await gw.admin_api("GET", f"/providers/{idp.id}/custom-attributes")
    assert r.status_code == 200, r.text
    return r.json()


async def log_of(gw: Harness, idp: Provider, user_id: str) -> list[dict]:
    return (await gw.admin_api("GET", f"/sync-log?provider={idp.id}&user={user_id}")).json()[
        "items"]


async def find(gw: Harness, idp: Provider, text: str) -> list[str]:
    r = await gw.scim(idp, "GET", "/Users", params={"filter": text})
    assert r.status_code == 200, r.text
    return sorted(u["userName"] for u in r.json()["Resources"])


# Undeclared: kept, listed, never the reason a user fails ----------------------------------

async def test_an_undeclared_entra_extension_is_kept_listed_and_logged(database):
    async with running(database, enabled=["entra"]) as gw:
        idp = await gw.provider("entra", plugin="entra")
        r = await gw.scim(idp, "POST", "/Users",
                          entra_user("bjensen@contoso.example", CustomAttribute="701984"))
        assert r.status_code == 201, r.text
        user = r.json()
        assert user[ENTRA] == {"CustomAttribute": "701984"} and ENTRA in user["schemas"]
        assert (await gw.scim(idp, "GET", f"/Users/{user['id']}")).json()[ENTRA] == {
            "CustomAttribute": "701984"}

        path = f"{ENTRA}:CustomAttribute"
        r = await gw.scim(idp, "PATCH", f"/Users/{user['id']}", entra_patch(
            {"op": "Replace", "path": path, "value": "4130"}))
        assert r.status_code == 200, r.text
        assert r.json()[ENTRA] == {"CustomAttribute": "4130"}

        entries = await log_of(gw, idp, user["id"])
        assert all(path in e["detail"] for e in entries), entries
        assert entries[0]["after"][ENTRA] == {"CustomAttribute": "4130"}
        listed = await attributes(gw, idp)
        assert listed["declared"] == [] and listed["undeclared_attributes"] == "keep"
        [seen] = listed["undeclared"]
        assert (seen["path"], seen["count"], seen["example"]) == (path, 2, "4130")
        assert seen["suggested"]["type"] == "string"


async def test_unknown_core_attributes_keep_their_400(database):
    async with running(database) as gw:
        idp = await gw.provider("idp")
        for wrong in ({"nickname2": "x"}, {f"{CORE}:nickname2": "x"},
                      {ENTERPRISE: {"badgeNumber": "x"}}):
            r = await gw.scim(idp, "POST", "/Users", scim_user("a@example.com", **wrong))
            assert r.status_code == 400 and r.json()["scimType"] == "invalidSyntax", r.text
        assert (await attributes(gw, idp))["undeclared"] == []


async def test_the_refusing_provider_answers_400_naming_the_attribute_and_where(database):
    async with running(database, enabled=["okta"]) as gw:
        idp = await gw.provider("okta", auth="basic", plugin="okta",
                                undeclared_attributes="refuse")
        r = await gw.scim(idp, "POST", "/Users",
                          okta_user("isaiah.langer@fabrikam.example", custom1="x"))
        assert r.status_code == 400, r.text
        detail = r.json()["detail"]
        assert f"'{OKTA}" in detail and "not declared" in detail
        assert f"/admin/v1/providers/{idp.id}/custom-attributes" in detail
        assert "identity-gateway provider attributes" in detail and "console" in detail
        assert (await gw.scim(idp, "GET", "/Users")).json()["totalResults"] == 0
        assert (await attributes(gw, idp))["undeclared"] == []

        await declare(gw, idp, schema=OKTA, name="custom1")
        r = await gw.scim(idp, "POST", "/Users",
                          okta_user("isaiah.langer@fabrikam.example", custom1="x"))
        assert r.status_code == 201, r.text


# Declared: discovery, types, filters, PATCH -------------------------------------------------

async def test_declared_attributes_are_discovered_typed_filtered_and_patched(database):
    async with running(database, enabled=["entra"]) as gw:
        idp = await gw.provider("entra", plugin="entra")
        await declare(gw, idp, schema=ENTRA, name="CustomAttribute",
                      description="Employee badge")
        await declare(gw, idp, schema=ENTRA, name="level", type="integer")

        schemas = (await gw.scim(idp, "GET", "/Schemas")).json()["Resources"]
        [ext] = [s for s in schemas if s["id"] == ENTRA]
        assert [(a["name"], a["type"], a["returned"]) for a in ext["attributes"]] == [
            ("CustomAttribute", "string", "default"), ("level", "integer", "default")]
        one = await gw.scim(idp, "GET", f"/Schemas/{ENTRA}")
        assert one.status_code == 200 and one.json()["name"] == "CustomExtensionName"
        user_type = (await gw.scim(idp, "GET", "/ResourceTypes/User")).json()
        assert {"schema": ENTRA, "required": False} in user_type["schemaExtensions"]
        other = await gw.provider("other")  # another provider's schema is its own
        assert ENTRA not in {s["id"] for s in
                             (await gw.scim(other, "GET", "/Schemas")).json()["Resources"]}

        r = await gw.scim(idp, "POST", "/Users",
                          entra_user("wrong@contoso.example", level="three"))
        assert r.status_code == 400 and r.json()["scimType"] == "invalidValue", r.text
        assert f"{ENTRA}:level" in r.json()["detail"]

        for name, badge, level in (("a@contoso.example", "701984", 3),
                                   ("b@contoso.example", "4130", 7)):
            r = await gw.scim(idp, "POST", "/Users",
                              entra_user(name, CustomAttribute=badge, level=level))
            assert r.status_code == 201, r.text
            assert r.json()[ENTRA] == {"CustomAttribute": badge, "level": level}
        b = r.json()["id"]
        assert await find(gw, idp, f'{ENTRA}:CustomAttribute eq "701984"') == [
            "a@contoso.example"]
        assert await find(gw, idp, f"{ENTRA}:level gt 5") == ["b@contoso.example"]
        assert await find(gw, idp, f'{ENTRA}:customattribute sw "41"') == [
            "b@contoso.example"]

        r = await gw.scim(idp, "PATCH", f"/Users/{b}", entra_patch(
            {"op": "Replace", "path": f"{ENTRA}:CustomAttribute", "value": "999"},
            {"op": "Add", "path": f"{ENTRA}:level", "value": 8}))
        assert r.status_code == 200, r.text
        assert r.json()[ENTRA] == {"CustomAttribute": "999", "level": 8}
        r = await gw.scim(idp, "PATCH", f"/Users/{b}", entra_patch(
            {"op": "Replace", "path": f"{ENTRA}:level", "value": "eight"}))
        assert r.status_code == 400 and r.json()["scimType"] == "invalidValue"
        r = await gw.scim(idp, "GET", f"/Users/{b}",
                          params={"attributes": f"{ENTRA}:level"})
        assert r.json()[ENTRA] == {"level": 8}

        document = (await gw.scim(idp, "GET", "/openapi.json")).json()
        user_schema = document["components"]["schemas"]["User"]["properties"][ENTRA]
        assert user_schema["properties"]["level"]["type"] == "integer"


async def test_an_okta_namespace_is_typed_in_post_and_put(database):
    async with running(database, enabled=["okta"]) as gw:
        idp = await gw.provider("okta", auth="basic", plugin="okta")
        await declare(gw, idp, schema=OKTA, name="isContractor", type="boolean")
        await declare(gw, idp, schema=OKTA, name="hireDate", type="dateTime")
        name = "isaiah.langer@fabrikam.example"
        r = await gw.scim(idp, "POST", "/Users", okta_user(
            name, isContractor=True, hireDate="2024-03-01T00:00:00Z", costCode="CC-1"))
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        assert r.json()[OKTA] == {"isContractor": True, "hireDate": "2024-03-01T00:00:00Z",
                                  "costCode": "CC-1"}
        assert await find(gw, idp, f"{OKTA}:isContractor eq true") == [name]
        assert await find(gw, idp, f'{OKTA}:hireDate gt "2024-01-01T00:00:00Z"') == [name]
        r = await gw.scim(idp, "PUT", f"/Users/{uid}",
                          {**okta_user(name, isContractor="yes"), "id": uid})
        assert r.status_code == 400 and f"{OKTA}:isContractor" in r.json()["detail"]
        r = await gw.scim(idp, "PUT", f"/Users/{uid}",
                          {**okta_user(name, isContractor=False), "id": uid})
        assert r.status_code == 200 and r.json()[OKTA] == {"isContractor": False}
        assert await find(gw, idp, f"{OKTA}:isContractor eq true") == []
        [seen] = (await attributes(gw, idp))["undeclared"]
        assert (seen["path"], seen["count"]) == (f"{OKTA}:costCode", 1)


async def test_values_kept_before_a_declaration_do_not_break_reads_or_filters(database):
    async with running(database) as gw:
        idp = await gw.provider("idp")
        old = await gw.scim(idp, "POST", "/Users",
                            scim_user("old@example.com", **{OKTA: {"level": "high"}}))
        assert old.status_code == 201
        listed = await attributes(gw, idp)
        assert listed["undeclared"][0]["suggested"]["type"] == "string"
        await declare(gw, idp, schema=OKTA, name="level", type="integer")
        assert (await attributes(gw, idp))["undeclared"] == []
        new = await gw.scim(idp, "POST", "/Users",
                            scim_user("new@example.com", **{OKTA: {"level": 4}}))
        assert new.status_code == 201, new.text
        # Kept as it was stored; filters compare what they can: "high" is no number, but it
        # is a value.
        again = await gw.scim(idp, "GET", f"/Users/{old.json()['id']}")
        assert again.status_code == 200 and again.json()[OKTA] == {"level": "high"}
        assert await find(gw, idp, f"{OKTA}:level gt 1") == ["new@example.com"]
        assert await find(gw, idp, f"{OKTA}:level pr") == ["new@example.com", "old@example.com"]
        r = await gw.scim(idp, "GET", "/Users", params={"sortBy": f"{OKTA}:level"})
        assert r.status_code == 200 and r.json()["totalResults"] == 2
        # Another change of the old user leaves the old value alone.
        r = await gw.scim(idp, "PATCH", f"/Users/{old.json()['id']}", entra_patch(
            {"op": "replace", "path": "title", "value": "Boss"}))
        assert r.status_code == 200 and r.json()[OKTA] == {"level": "high"}


# The admin's declarations -------------------------------------------------------------------

async def test_declarations_are_checked_changed_and_removed(database):
    async with running(database) as gw:
        idp = await gw.provider("idp")
        base = f"/providers/{idp.id}/custom-attributes"
        for bad, says in (({"schema": CORE, "name": "x"}, "not an extension schema URN"),
                          ({"schema": ENTERPRISE, "name": "x"}, "fixed"),
                          ({"schema": ENTRA, "name": "1x"}, "not an attribute name"),
                          ({"schema": ENTRA, "name": "x", "type": "money"}, "no type"),
                          ({"schema": ENTRA, "name": "x", "colour": "red"}, "colour")):
            r = await gw.admin_api("POST", base, bad)
            assert r.status_code == 400 and says in r.json()["detail"], r.text
        made = await declare(gw, idp, schema=ENTRA, name="badge", type="complex",
                             sub_attributes=[{"name": "number", "type": "integer"},
                                             {"name": "site"}])
        assert made["path"] == f"{ENTRA}:badge"
        r = await gw.admin_api("POST", base, {"schema": ENTRA.upper(), "name": "BADGE"})
        assert r.status_code == 409
        path = quote(f"{ENTRA}:badge")
        r = await gw.admin_api("PATCH", f"{base}/{path}", {"description": "Door badge",
                                                           "case_exact": True})
        assert r.status_code == 200 and r.json()["description"] == "Door badge"
        r = await gw.admin_api("PATCH", f"{base}/{path}", {"name": "other"})
        assert r.status_code == 400 and "remove it and declare" in r.json()["detail"]
        r = await gw.scim(idp, "POST", "/Users", scim_user(
            "a@example.com", **{ENTRA: {"badge": {"number": 12, "site": "HQ"}}}))
        assert r.status_code == 201, r.text
        assert await find(gw, idp, f"{ENTRA}:badge.number eq 12") == ["a@example.com"]

        changed = await gw.admin_api("PATCH", f"{base}/{path}", {"type": "string"})
        assert changed.status_code == 200 and changed.json()["sub_attributes"] == []
        missing = await gw.admin_api("PATCH", f"{base}/{quote(f'{ENTRA}:other')}",
                                     {"type": "integer"})
        assert missing.status_code == 404 and f"{ENTRA}:badge" in missing.json()["detail"]
        assert (await gw.admin_api("DELETE", f"{base}/{path}")).status_code == 204
        assert (await gw.admin_api("DELETE", f"{base}/{path}")).status_code == 404
        assert (await attributes(gw, idp))["declared"] == []
        # The value stays, now undeclared: returned, no longer filterable.
        r = await gw.scim(idp, "GET", f"/Users/{r.json()['id']}")
        assert r.json()[ENTRA] == {"badge": {"number": 12, "site": "HQ"}}
        r = await gw.scim(idp, "GET", "/Users",
                          params={"filter": f"{ENTRA}:badge.number eq 12"})
        assert r.status_code == 400 and r.json()["scimType"] == "invalidFilter"
        r = await gw.admin_api("GET", "/providers/nope/custom-attributes")
        assert r.status_code == 404


async def test_an_undeclared_attribute_is_declared_with_the_type_its_values_suggest(database):
    async with running(database) as gw:
        idp = await gw.provider("idp")
        for i, value in enumerate((3, 4.5)):
            r = await gw.scim(idp, "POST", "/Users",
                              scim_user(f"u{i}@example.com", **{OKTA: {"score": value}}))
            assert r.status_code == 201
        path = f"{OKTA}:score"
        [seen] = (await attributes(gw, idp))["undeclared"]
        assert (seen["count"], seen["suggested"]["type"]) == (2, "decimal")
        r = await gw.admin_api("POST", f"/providers/{idp.id}/undeclared-attributes/"
                                       f"{quote(path)}/declare")
        assert r.status_code == 201 and r.json()["type"] == "decimal", r.text
        listed = await attributes(gw, idp)
        assert listed["undeclared"] == [] and listed["declared"][0]["path"] == path
        assert await find(gw, idp, f"{path} ge 4") == ["u1@example.com"]
        r = await gw.admin_api("PATCH", f"/providers/{idp.id}/custom-attributes/{quote(path)}",
                               {"type": "string"})
        assert r.status_code == 200 and r.json()["type"] == "string"
        assert await find(gw, idp, f'{path} eq "3"') == []  # stored as numbers, kept so
        r = await gw.admin_api("POST", f"/providers/{idp.id}/undeclared-attributes/"
                                       f"{quote(path)}/declare")
        assert r.status_code == 404


async def test_events_carry_the_custom_attributes(database):
    async with running(database) as gw:
        idp = await gw.provider("idp")
        await declare(gw, idp, schema=ENTRA, name="CustomAttribute")
        r = await gw.scim(idp, "POST", "/Users", scim_user(
            "a@example.com", **{ENTRA: {"CustomAttribute": "701984"}, OKTA: {"x": 1}}))
        assert r.status_code == 201
        events = (await gw.admin_api("GET", "/events?after=0")).json()["items"]
        created = next(e for e in events if e["type"] == "user.created")
        assert created["data"]["user"]["custom_attributes"] == {
            ENTRA: {"CustomAttribute": "701984"}, OKTA: {"x": 1}}
        view = (await gw.admin_api("GET", f"/users/{r.json()['id']}")).json()
        assert view["custom_attributes"][ENTRA] == {"CustomAttribute": "701984"}
