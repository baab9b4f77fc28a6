"""Bad input gets a SCIM error body with a 4xx, never a 500, and writes nothing."""

import pytest

pytestmark = pytest.mark.anyio


async def count_users(gateway, idp):
    return (await gateway.scim(idp, "GET", "/Users")).json()["totalResults"]


@pytest.mark.parametrize("content,ctype,status,scim_type", [
    (b"{not json", "application/scim+json", 400, "invalidSyntax"),
    (b"", "application/scim+json", 400, "invalidSyntax"),
    (b"[1, 2]", "application/scim+json", 400, "invalidSyntax"),
    (b'{"userName": "a@b.c"}', "text/plain", 415, None),
    (b'{"userName": 5}', "application/json", 400, "invalidValue"),
    (b'{"userName": "a@b.c", "active": "yes"}', "application/json", 400, "invalidValue"),
    (b'{"userName": "a@b.c", "favouriteColour": "red"}', "application/json", 400,
     "invalidSyntax"),
    (b'{"active": true}', "application/json", 400, "invalidValue"),
    (b'{"userName": "a@b.c", "name": ' + b'{"x": ' * 40 + b"1" + b"}" * 41, "application/json",
     400, "invalidSyntax"),
])
async def test_bad_bodies(gateway, idp, content, ctype, status, scim_type):
    r = await gateway.client.post(f"{idp.base}/Users", content=content,
                                  headers={**idp.headers, "Content-Type": ctype})
    assert r.status_code == status, r.text
    body = r.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]
    assert await count_users(gateway, idp) == 0


@pytest.mark.parametrize("levels", [31, 32, 33, 40])
async def test_nesting_limit_is_exact(gateway, idp, levels):
    """The body object is level 1; a scalar inside n-2 nested lists is at level n."""
    inner = b"[" * (levels - 2) + b"1" + b"]" * (levels - 2)
    r = await gateway.client.post(f"{idp.base}/Users",
                                  content=b'{"userName": "a@b.c", "title": ' + inner + b"}",
                                  headers={**idp.headers, "Content-Type": "application/json"})
    assert r.status_code == 400
    too_deep = "nested deeper than 32 levels" in r.json()["detail"]
    assert too_deep == (levels > 32), r.json()["detail"]
    assert await count_users(gateway, idp) == 0


async def test_body_over_the_limit_is_413(gateway, idp):
    big = b'{"userName": "a@b.c", "title": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    r = await gateway.client.post(f"{idp.base}/Users", content=big,
                                  headers={**idp.headers, "Content-Type": "application/scim+json"})
    assert r.status_code == 413
    assert r.json()["status"] == "413"
    assert await count_users(gateway, idp) == 0


async def test_unknown_resource_and_endpoint(gateway, idp):
    r = await gateway.scim(idp, "GET", "/Users/does-not-exist")
    assert r.status_code == 404 and r.json()["status"] == "404"
    r = await gateway.scim(idp, "GET", "/Widgets")
    assert r.status_code == 404 and r.json()["status"] == "404"
    r = await gateway.client.get("/nowhere")
    assert r.status_code == 404 and r.json()["status"] == "404"


async def test_refusals_are_in_the_sync_log(gateway, idp):
    await gateway.client.post(f"{idp.base}/Users", content=b'{"active": true}',
                              headers={**idp.headers, "Content-Type": "application/json"})
    log = (await gateway.client.get("/admin/v1/sync-log", params={"outcome": "error"},
                                    headers=gateway.admin)).json()
    assert len(log["items"]) == 1
    assert log["items"][0]["status"] == 400
    assert "userName" in log["items"][0]["detail"]


async def test_refusals_before_parsing_are_in_the_sync_log_too(gateway, idp):
    await gateway.client.post(f"{idp.base}/Users", content=b"{not json",
                              headers={**idp.headers, "Content-Type": "application/scim+json"})
    await gateway.client.patch(f"{idp.base}/Users/x", content=b"{}",
                               headers={**idp.headers, "Content-Type": "text/plain"})
    log = (await gateway.client.get("/admin/v1/sync-log", params={"outcome": "error"},
                                    headers=gateway.admin)).json()["items"]
    assert [(e["operation"], e["status"], e["provider"]) for e in log] == [
        ("patch", 415, idp.id), ("create", 400, idp.id)]
    assert all(e["request_id"] for e in log)
