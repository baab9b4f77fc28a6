"""Entra finds a user by its matching attribute: Test Connection looks one up by a random GUID
and expects 200 with an empty list; every later cycle looks the user up by its value before
it updates it. The admin may pick any attribute of the mapping, and Entra filters on it as the
mapping writes it (Microsoft Learn, "Troubleshoot user provisioning validation":
`GET /Users?filter=emails[type eq "work"].value eq "user@contoso.com"`)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from gateway.observability import activity
from gateway.testing import running

pytestmark = pytest.mark.anyio

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# The seeds' Entra user (shared/idp-traces/entra-users.json, "create user with the seed's
# attribute set").
ADELE = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "adele.vance@contoso.example", "active": True, "title": "Retail Manager",
    "userType": "Member",
    "emails": [{"primary": True, "type": "work", "value": "adele.vance@contoso.example"}],
    "name": {"formatted": "Adele Vance", "familyName": "Vance", "givenName": "Adele"},
    "addresses": [{"type": "work", "locality": "Seattle", "region": "WA", "country": "US"}],
    ENT: {"department": "Retail", "division": "West"},
}
# Adele's work email and work address are this user's home ones: a lookup by the work ones
# must not find this user.
LOOKALIKE = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
    "externalId": "5e0c6d51-3a59-4c1e-9b5c-0f9d2b7f4a10",
    "userName": "diego.siciliani@contoso.example", "active": True, "title": "HR Manager",
    "userType": "Guest",
    "emails": [{"type": "work", "value": "diego.siciliani@contoso.example"},
               {"type": "home", "value": "adele.vance@contoso.example"}],
    "name": {"familyName": "Siciliani", "givenName": "Diego"},
    "addresses": [{"type": "home", "locality": "Seattle", "region": "WA", "country": "US"},
                  {"type": "work", "locality": "Berlin", "country": "DE"}],
    ENT: {"department": "HR", "division": "East"},
}

# Every String attribute of Entra's default user mapping (docs/idp/entra.md, section 3), as a
# matching attribute, with Adele's value.
USER_MATCHING = {
    "userName": "adele.vance@contoso.example",
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    'emails[type eq "work"].value': "adele.vance@contoso.example",
    "title": "Retail Manager",
    "name.givenName": "Adele",
    "name.familyName": "Vance",
    'addresses[type eq "work"].locality': "Seattle",
    'addresses[type eq "work"].region': "WA",
    'addresses[type eq "work"].country': "US",
    "userType": "Member",
    f"{ENT}:department": "Retail",
    f"{ENT}:division": "West",
}
GROUP = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
         "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Sales West"}
GROUP_MATCHING = {"displayName": "Sales West",
                  "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"}


@pytest.fixture
async def entra(database):
    async with running(database, enabled=["entra"]) as gw:
        yield gw, await gw.provider("Entra ID", plugin="entra")


def lookup(endpoint: str, attr: str, value: str) -> str:
    query = "excludedAttributes=members&" if endpoint == "/Groups" else ""
    return f"{endpoint}?{query}filter=" + quote(f'{attr} eq "{value}"', safe="")


async def test_test_connection_with_each_matching_attribute(entra):
    gw, idp = entra
    for endpoint, matching in (("/Users", USER_MATCHING), ("/Groups", GROUP_MATCHING)):
        for attr in matching:
            r = await gw.scim(idp, "GET", lookup(endpoint, attr, str(uuid.uuid4())))
            assert r.status_code == 200, (attr, r.text)
            assert (r.json()["totalResults"], r.json()["Resources"]) == (0, []), attr


async def test_each_matching_attribute_finds_the_user_and_only_that_user(entra):
    gw, idp = entra
    ids = []
    for body in (ADELE, LOOKALIKE, GROUP):
        r = await gw.scim(idp, "POST", "/Groups" if body is GROUP else "/Users", body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    adele, _lookalike, group = ids
    for endpoint, matching, wanted in (("/Users", USER_MATCHING, adele),
                                       ("/Groups", GROUP_MATCHING, group)):
        for attr, value in matching.items():
            r = await gw.scim(idp, "GET", lookup(endpoint, attr, value))
            assert r.status_code == 200, (attr, r.text)
            assert [u["id"] for u in r.json()["Resources"]] == [wanted], attr


async def test_the_work_element_must_match_on_its_own(entra):
    gw, idp = entra
    r = await gw.scim(idp, "POST", "/Users", LOOKALIKE)
    assert r.status_code == 201, r.text
    # Its home email and home address match, its work ones do not.
    for attr, value in (('emails[type eq "work"].value', "adele.vance@contoso.example"),
                        ('addresses[type eq "work"].locality', "Seattle"),
                        ('addresses[type eq "work"].country', "US")):
        r = await gw.scim(idp, "GET", lookup("/Users", attr, value))
        assert r.status_code == 200, r.text
        assert r.json()["totalResults"] == 0, attr
    r = await gw.scim(idp, "GET", lookup("/Users", 'emails[type eq "home"].value',
                                         "adele.vance@contoso.example"))
    assert r.json()["totalResults"] == 1


async def test_the_connection_check_names_test_connection_by_any_matching_attribute(entra):
    gw, idp = entra
    await gw.console_sign_in()
    for attr in ('emails[type eq "work"].value', "externalId", f"{ENT}:department"):
        r = await gw.scim(idp, "GET", lookup("/Users", attr, str(uuid.uuid4())))
        assert r.status_code == 200, r.text
        await activity.flush(gw.gw)
        found = await gw.client.get(f"/console/providers/{idp.id}/connection")
        assert found.json()["state"] == "connected"
        assert "what Entra&#39;s Test Connection sends" in found.json()["html"], attr
