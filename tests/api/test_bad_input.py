"""Inputs that used to answer 500: each is a 400 (or 404) with the error body of its API,
on both stores, and changes nothing."""

import httpx
import pytest
from events.webhook_receiver import LOOPBACK

from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim_refusal(r: httpx.Response, status: int = 400) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"]
    return body


def admin_refusal(r: httpx.Response, status: int = 400) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["detail"] and "schemas" not in body
    return body


@pytest.mark.parametrize("query", [
    {"filter": 'userName eq "\\ud800"'},
    {"filter": 'emails[value eq "\\udfff"]'},
    {"filter": 'userName eq "a\\u0000"'},
    {"startIndex": "99999999999999999999"},
    {"count": "99999999999999999999"},
    {"startIndex": "1e308"},
    {"attributes": "a\x00b"},
])
async def test_list_parameters(gateway, idp, query):
    scim_refusal(await gateway.scim(idp, "GET", "/Users", params=query))


@pytest.mark.parametrize("search", [
    {"startIndex": 1e308}, {"startIndex": 99999999999999999999}, {"count": 1e308},
    {"count": -99999999999999999999}, {"startIndex": 1.5}, {"startIndex": True},
    {"sortBy": 5}, {"sortBy": ["userName"]}, {"sortOrder": 1},
    {"filter": 'userName eq "\\ud800"'},
])
async def test_search_request_fields(gateway, idp, search):
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], **search}
    scim_refusal(await gateway.scim(idp, "POST", "/Users/.search", body))
    scim_refusal(await gateway.scim(idp, "POST", "/.search", body))


async def test_a_json_body_nested_past_the_decoders_own_limit(gateway, idp):
    for depth in (990, 5000):
        r = await gateway.client.post(
            idp.base + "/Users", content=b"[" * depth + b"]" * depth,
            headers={**idp.headers, "Content-Type": "application/scim+json"})
        assert scim_refusal(r)["scimType"] == "invalidSyntax"


async def test_replace_of_a_filtered_element_without_a_value(gateway, idp):
    uid = (await gateway.scim(idp, "POST", "/Users", user_body("a@example.com"))).json()["id"]
    for value in ({}, {"value": None}, {"value": "x"}, {"value": [1]}):
        op = {"op": "replace", "path": 'emails[type eq "work"]', **value}
        r = await gateway.scim(idp, "PATCH", f"/Users/{uid}",
                               {"schemas": [PATCH_OP], "Operations": [op]})
        assert scim_refusal(r)["scimType"] == "invalidValue"
    after = (await gateway.scim(idp, "GET", f"/Users/{uid}")).json()
    assert after["emails"] == [{"value": "a@example.com", "type": "work", "primary": True}]


@pytest.mark.parametrize("path", [
    "/scim/v2/a%00b/Users", "/scim/v2/{pid}/Users/a%00b",
    "/scim/v2/{pid}/Users?filter=userName%20eq%20%22a%5Cu0000%22",
    "/scim/v2/{pid}/Groups?filter=displayName%20co%20%22%5Cu0000%22",
])
async def test_nul_in_a_scim_path_or_parameter(gateway, idp, path):
    for method in ("GET", "DELETE"):
        r = await gateway.client.request(method, path.format(pid=idp.id), headers=idp.headers)
        assert r.status_code in (400, 401, 404, 405), r.text
        assert r.json()["schemas"] == [ERROR]
    # Without credentials too: refused before anything reaches the store.
    r = await gateway.client.get(path.format(pid=idp.id))
    assert r.status_code in (400, 401, 404) and r.json()["schemas"] == [ERROR]


@pytest.mark.parametrize("body", [
    {"name": "x", "plugin": {}}, {"name": "x", "settings": "x"}, {"name": "x", "settings": [1]},
    {"name": 5}, {"name": "x", "auth": []}, {"name": "x", "deactivation_delay": {}},
    {"name": "x", "deactivation_delay": 1e308}, {"name": "x", "deactivation_delay": "9999999d"},
    {"name": "x", "settings": {"deactivation_delay": 1e300}},
])
async def test_admin_provider_bodies_of_the_wrong_type(gateway, body):
    admin_refusal(await gateway.admin_api("POST", "/providers", body))
    listed = (await gateway.admin_api("GET", "/providers")).json()["items"]
    assert listed == []


@pytest.mark.parametrize("change", [
    {"plugin": {}}, {"settings": "x"}, {"settings": [1]}, {"name": 5}, {"name": None},
    {"deactivation_delay": [1]},
])
async def test_admin_provider_changes_of_the_wrong_type(gateway, idp, change):
    before = (await gateway.admin_api("GET", f"/providers/{idp.id}")).json()
    admin_refusal(await gateway.admin_api("PATCH", f"/providers/{idp.id}", change))
    assert (await gateway.admin_api("GET", f"/providers/{idp.id}")).json() == before


@pytest.mark.parametrize("query", [
    "cursor=%C2%B2", "cursor=99999999999999999999999", "cursor=-1", "cursor=%EF%BC%91",
    "provider=a%00", "user=%00", "since=%00",
])
async def test_sync_log_cursors_and_filters(gateway, idp, query):
    admin_refusal(await gateway.admin_api("GET", f"/sync-log?{query}"))
    if not query.startswith("cursor"):  # the export has no pages
        admin_refusal(await gateway.admin_api("GET", f"/sync-log/export?{query}"))


async def test_dead_letter_cursors(database):
    async with running(database, webhook_allow_networks=LOOPBACK) as gateway:
        hook = await gateway.admin_api("POST", "/webhooks", {"url": "http://127.0.0.1:9/hook"})
        assert hook.status_code == 201, hook.text
        for cursor in ("%C2%B2", "99999999999999999999999", "x"):
            admin_refusal(await gateway.admin_api(
                "GET", f"/webhooks/{hook.json()['id']}/dead-letters?cursor={cursor}"))


@pytest.mark.parametrize("path", [
    "/users?cursor=a%00", "/users?q=%00", "/users?state=%00", "/users/a%00",
    "/providers/a%00", "/webhooks/a%00", "/users?provider=%00",
])
async def test_admin_nul_parameters(gateway, path):
    r = await gateway.admin_api("GET", path)
    assert r.status_code in (200, 400, 404), r.text
    if r.status_code != 200:
        admin_refusal(r, r.status_code)


# Numbers a request spells: ASCII digits within range, else a 400 naming the parameter.

@pytest.mark.parametrize("path", [
    # Each was taken before: int() reads '1_0' as 10 and an Arabic-Indic digit as its
    # value, and a number past 64 bits was clamped to the largest page.
    "/sync-log?limit=99999999999999999999", "/sync-log?limit=1_0",
    "/events?after=99999999999999999999", "/providers/{pid}/activity?minutes=%D9%A3",
])
async def test_admin_numbers(gateway, idp, path):
    body = admin_refusal(await gateway.admin_api("GET", path.format(pid=idp.id)))
    assert "must be a whole number from" in body["detail"]


@pytest.mark.parametrize("query", ["count=%D9%A3", "count=1_0", "startIndex=+1",
                                   "count=%201"])
async def test_scim_numbers(gateway, idp, query):
    body = scim_refusal(await gateway.scim(idp, "GET", f"/Users?{query}"))
    assert body["scimType"] == "invalidValue" and "must be a whole number" in body["detail"]


async def test_a_content_length_of_a_latin1_digit(gateway, idp):
    """'²' is a Latin-1 byte (0xB2) that str.isdigit() takes and int() refuses."""
    r = await gateway.client.post(f"{idp.base}/Users", content=b"{}", headers={
        **idp.headers, "Content-Type": "application/scim+json", "Content-Length": b"\xb2"})
    assert "Content-Length" in scim_refusal(r)["detail"]


@pytest.mark.parametrize("users", [10**23, 2**63])
async def test_a_guard_threshold_past_64_bits(gateway, idp, users):
    path = f"/providers/{idp.id}/deactivation-guard"
    before = (await gateway.admin_api("GET", path)).json()
    admin_refusal(await gateway.admin_api("PATCH", path, {"threshold": {"users": users}}))
    assert (await gateway.admin_api("GET", path)).json() == before


@pytest.mark.parametrize("seq", [10**23, 2**63, -1])
async def test_a_redelivered_seq_past_64_bits(gateway, seq):
    async with gateway.gw.store.write() as conn:
        await conn.execute("INSERT INTO webhooks (id, url, secret, events, cursor, created_at)"
                           " VALUES ('w1', 'https://receiver.example/h', "
                           "'sixteen-chars-secret', '[\"*\"]', 0, 'now')")
    admin_refusal(await gateway.admin_api("POST", "/webhooks/w1/redeliver", {"seq": [seq]}))
