"""The canonical profile, the same shape whichever IdP sent the user, in the admin's user
view and in every user event."""

from __future__ import annotations

import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ADDRESSES = [{"type": "home", "locality": "Tacoma", "region": "WA", "country": "US",
              "primary": True},
             {"type": "work", "locality": "Oslo", "region": "Oslo", "country": "NO"}]
EMAILS = [{"type": "work", "value": "work@contoso.example"},
          {"type": "home", "value": "person@contoso.example", "primary": True}]


def body(user_name: str, **extra) -> dict:
    return {"schemas": [USER, ENT], "userName": user_name, "externalId": "x-1",
            "active": True, "title": "Buyer", "userType": "Member", "displayName": "P Q",
            "name": {"givenName": "P", "familyName": "Q"}, "emails": EMAILS,
            "addresses": ADDRESSES,
            ENT: {"department": "Retail", "division": "West"}, **extra}


async def profile_and_events(gw, uid):
    view = (await gw.client.get(f"/admin/v1/users/{uid}", headers=gw.admin)).json()
    feed = (await gw.client.get("/admin/v1/events", headers=gw.admin)).json()["items"]
    profiles = [e["data"]["user"]["profile"] for e in feed
                if e.get("resource_id", e["data"].get("id")) == uid and "user" in e["data"]]
    return view["profile"], profiles


async def test_entra_profile_takes_work_address_and_email(database):
    async with running(database, enabled=["entra", "okta"]) as gw:
        idp = await gw.provider("entra", plugin="entra")
        boss = (await gw.scim(idp, "POST", "/Users", {
            "schemas": [USER], "userName": "boss@contoso.example"})).json()["id"]
        r = await gw.scim(idp, "POST", "/Users", body("person@contoso.example", **{
            ENT: {"department": "Retail", "division": "West", "manager": boss}}))
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        await gw.scim(idp, "PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "active", "value": "False"}]})
        profile, from_events = await profile_and_events(gw, uid)
        assert profile == {
            "username": "person@contoso.example", "email": "work@contoso.example",
            "given_name": "P", "family_name": "Q", "display_name": "P Q", "title": "Buyer",
            "department": "Retail", "division": "West", "locality": "Oslo", "region": "Oslo",
            "country": "NO", "manager_id": boss, "user_type": "Member", "external_id": "x-1",
            "active": False,
        }
        # created, deactivation_scheduled, blocked (during the delay)
        assert len(from_events) == 3 and from_events[-1] == profile


async def test_okta_profile_takes_the_primary_address(database):
    async with running(database, enabled=["entra", "okta"]) as gw:
        idp = await gw.provider("okta", auth="basic", plugin="okta")
        emails = [{"type": "work", "value": "work@fabrikam.example"},
                  {"type": "home", "value": "person@fabrikam.example", "primary": True}]
        r = await gw.scim(idp, "POST", "/Users", body("person@fabrikam.example",
                                                      emails=emails))
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        blocked = await gw.client.post(f"/admin/v1/users/{uid}/block", headers=gw.admin)
        assert blocked.status_code == 200
        profile, from_events = await profile_and_events(gw, uid)
        assert (profile["locality"], profile["region"], profile["country"]) == \
            ("Tacoma", "WA", "US")
        assert profile["email"] == "person@fabrikam.example"
        assert blocked.json()["profile"] == profile
        assert len(from_events) == 2 and all(p == profile for p in from_events)


async def test_okta_profile_mapping_in_okta_notation(database):
    async with running(database, enabled=["okta"]) as gw:
        idp = await gw.provider("okta", auth="basic", plugin="okta")
        mapping = {"locality": "addresses.^[type=='work'].locality",
                   "department": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
                                 "division"}
        r = await gw.client.patch(f"/admin/v1/providers/{idp.id}", headers=gw.admin,
                                  json={"settings": {"profile_mapping": mapping}})
        assert r.status_code == 200, r.text
        emails = [{"value": "person@fabrikam.example", "primary": True}]
        r = await gw.scim(idp, "POST", "/Users", body("person@fabrikam.example",
                                                      emails=emails))
        assert r.status_code == 201, r.text
        profile, _ = await profile_and_events(gw, r.json()["id"])
        assert profile["locality"] == "Oslo" and profile["department"] == "West"
        assert profile["country"] == "US"  # still the primary address

        # An unusable mapping is refused when it is saved, not when Okta next pushes.
        for bad, words in [({"country": "addresses.^[primary=true].country"},
                            "profile_mapping.country"),
                           ({"countri": "addresses.^[primary==true].country"},
                            "did you mean 'country'"),
                           ({"title": "nosuch"}, "profile_mapping.title"),
                           ("title", "must be an object")]:
            refused = await gw.client.patch(f"/admin/v1/providers/{idp.id}",
                                            headers=gw.admin,
                                            json={"settings": {"profile_mapping": bad}})
            assert refused.status_code == 400, bad
            assert words in refused.json()["detail"], refused.json()
        kept = await gw.client.get(f"/admin/v1/providers/{idp.id}", headers=gw.admin)
        assert kept.json()["settings"]["profile_mapping"] == mapping
        r = await gw.scim(idp, "POST", "/Users", body("other@fabrikam.example", emails=[]))
        assert r.status_code == 201, r.text


async def test_okta_profile_mapping_reads_a_declared_custom_attribute(database):
    """Okta sends a Profile Editor attribute under its External namespace (Okta support,
    "Custom Schema Attribute is Not Being Sent to Provisioning Servers":
    urn:ietf:params:scim:schemas:custom:Space); declared, it can feed a profile field."""
    space = "urn:ietf:params:scim:schemas:custom:Space"
    async with running(database, enabled=["okta"]) as gw:
        idp = await gw.provider("okta", auth="basic", plugin="okta")
        mapping = {"division": f"{space}:businessUnit"}
        refused = await gw.client.patch(f"/admin/v1/providers/{idp.id}", headers=gw.admin,
                                        json={"settings": {"profile_mapping": mapping}})
        assert refused.status_code == 400 and "profile_mapping.division" in \
            refused.json()["detail"]
        declared = await gw.admin_api("POST", f"/providers/{idp.id}/custom-attributes",
                                      {"schema": space, "name": "businessUnit"})
        assert declared.status_code == 201, declared.text
        r = await gw.client.patch(f"/admin/v1/providers/{idp.id}", headers=gw.admin,
                                  json={"settings": {"profile_mapping": mapping}})
        assert r.status_code == 200, r.text
        r = await gw.scim(idp, "POST", "/Users", body(
            "person@fabrikam.example", emails=[], **{space: {"businessUnit": "Outlets"}}))
        assert r.status_code == 201, r.text
        profile, from_events = await profile_and_events(gw, r.json()["id"])
        assert profile["division"] == "Outlets" and from_events == [profile]
