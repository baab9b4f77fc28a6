"""A provider's connection state in the admin API: GET /admin/v1/providers/{id}/connection,
and `connection` in the provider's view and in the provider list. Waiting until its IdP's
first request, refused (how many, why, in words), connected (the request in words: Entra's
Test Connection by name)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio

WRONG = {"Authorization": "Bearer not-the-secret"}
TEST_CONNECTION = "what Entra's Test Connection sends"


@pytest.fixture
async def entra(database):
    async with running(database, enabled=["entra", "okta"]) as gateway:
        yield gateway, await gateway.provider("Entra production", plugin="entra")


async def state(gateway, ref: str) -> dict:
    r = await gateway.admin_api("GET", f"/providers/{quote(ref)}/connection")
    assert r.status_code == 200, r.text
    return r.json()


async def test_waiting_then_refused_then_connected_with_entra_s_test_connection(entra):
    gateway, idp = entra
    waiting = await state(gateway, idp.id)
    assert (waiting["state"], waiting["request"], waiting["refused"]) == ("waiting", None, None)
    assert waiting["summary"].startswith("Waiting: no request has arrived since the current "
                                         "credential was issued")

    gateway.clock.advance(seconds=5)
    assert (await gateway.scim(idp, "GET", "/Users", headers=WRONG)).status_code == 401
    assert (await gateway.scim(idp, "GET", "/Users",
                               headers={"Authorization": "Basic eDp5"})).status_code == 401
    refused = await state(gateway, "entra production")  # by name, in any case
    assert refused["state"] == "refused"
    assert refused["refused"]["count"] == 2
    assert refused["refused"]["reasons"] == {"unknown_credential": 1, "wrong_scheme": 1}
    assert refused["refused"]["explained"]["unknown_credential"] == (
        "the secret is not this provider's current one (mistyped, or from before a rotation)")
    assert refused["summary"].startswith("Refused: 2 requests arrived since")
    assert refused["summary"].endswith(
        "Why: the secret is not this provider's current one (mistyped, or from before a "
        "rotation) (1); the credential was of the wrong type (Basic where Bearer is "
        "expected, or the reverse) (1).")

    gateway.clock.advance(seconds=5)
    lookup = "/Users?filter=" + quote(f'userName eq "{uuid.uuid4()}"', safe="")
    assert (await gateway.scim(idp, "GET", lookup)).status_code == 200
    connected = await state(gateway, idp.id)
    assert connected["state"] == "connected"
    assert connected["request"]["status"] == 200
    assert connected["request"]["request"].startswith('GET /Users?filter=userName eq "')
    assert TEST_CONNECTION in connected["request"]["described"]
    assert connected["summary"].startswith("Connected: A lookup of a user by userName: "
                                           f"{TEST_CONNECTION}")

    gateway.clock.advance(seconds=5)
    await gateway.scim(idp, "POST", "/Users", {"userName": "adele@contoso.example"})
    created = await state(gateway, idp.id)
    assert created["request"]["described"] == "Created a user"


async def test_the_provider_view_and_list_carry_the_connection_state(entra):
    gateway, idp = entra
    okta = await gateway.provider("Okta", auth="basic", plugin="okta")
    await gateway.scim(okta, "GET", "/Users", params={"startIndex": "1", "count": "2"})
    one = (await gateway.admin_api("GET", f"/providers/{idp.id}")).json()
    assert one["connection"]["state"] == "waiting"
    assert one["connection"] == await state(gateway, idp.id)
    listed = (await gateway.admin_api("GET", "/providers")).json()["items"]
    states = {p["name"]: p["connection"] for p in listed}
    assert states["Entra production"]["state"] == "waiting"
    assert states["Okta"]["state"] == "connected"
    assert states["Okta"]["request"]["described"] == (
        "Okta's Test API Credentials: the first page of users")


async def test_an_unknown_provider_is_a_404_naming_the_known_ones(entra):
    gateway, _ = entra
    r = await gateway.admin_api("GET", "/providers/Entra%20prod/connection")
    assert r.status_code == 404
    assert set(r.json()) == {"detail", "status"}
    assert r.json()["detail"].startswith("no provider 'Entra prod' (did you mean "
                                         "'Entra production'?)")


async def test_the_openapi_document_describes_the_connection(entra):
    gateway, _ = entra
    doc = (await gateway.admin_api("GET", "/openapi.json")).json()
    op = doc["paths"]["/admin/v1/providers/{id}/connection"]["get"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Connection"}
    schemas = doc["components"]["schemas"]
    assert set(schemas["Connection"]["required"]) >= {"state", "since", "summary", "request"}
    assert schemas["ProviderDetails"]["properties"]["connection"] == {
        "$ref": "#/components/schemas/Connection"}
