"""POST /Bulk (RFC 7644 3.7) against the real app."""

import msgspec
import pytest

from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def bulk(*operations, **extra) -> dict:
    return {"schemas": [BULK], "Operations": list(operations), **extra}


def group(name: str, *member_values: str) -> dict:
    return {"schemas": [CORE_GROUP], "displayName": name,
            "members": [{"value": v} for v in member_values]}


async def sync_log(gateway) -> list[dict]:
    r = await gateway.client.get("/admin/v1/sync-log", headers=gateway.admin)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_bulk_creates_with_references_in_request_order(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Bulk", bulk(
        {"method": "POST", "path": "/Users", "bulkId": "alice", "data": user_body("a@x.org")},
        {"method": "POST", "path": "/Groups", "bulkId": "team",
         "data": group("Team", "bulkId:alice")},
        {"method": "PATCH", "path": "/Users/bulkId:alice", "data": {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}},
    ))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]
    ops = body["Operations"]
    assert [(o["method"], o["status"]) for o in ops] == [("POST", "201"), ("POST", "201"),
                                                         ("PATCH", "200")]
    user_id = ops[0]["location"].rsplit("/", 1)[-1]
    group_loc = ops[1]["location"]
    assert ops[0]["bulkId"] == "alice" and ops[0]["version"].startswith('W/"')
    g = await gateway.client.get(group_loc, headers=idp.headers)
    assert [m["value"] for m in g.json()["members"]] == [user_id]
    u = (await gateway.scim(idp, "GET", f"/Users/{user_id}")).json()
    assert u["title"] == "Lead" and u["meta"]["version"] == ops[2]["version"]


async def test_forward_reference_runs_in_dependency_order(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Bulk", bulk(
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": group("G", "bulkId:u")},
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": user_body("fwd@x.org")},
    ))
    ops = r.json()["Operations"]
    assert [(o["bulkId"], o["status"]) for o in ops] == [("g", "201"), ("u", "201")]
    g = await gateway.client.get(ops[0]["location"], headers=idp.headers)
    assert g.json()["members"][0]["value"] == ops[1]["location"].rsplit("/", 1)[-1]


async def test_errors_are_per_operation_and_not_atomic(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Bulk", bulk(
        {"method": "POST", "path": "/Users", "bulkId": "ok", "data": user_body("ok@x.org")},
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user_body("OK@x.org")},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": group("G", "bulkId:dup")},
        {"method": "DELETE", "path": "/Users/nope"},
        {"method": "PUT", "path": "/Users/bulkId:never", "data": user_body("n@x.org")},
        {"method": "GET", "path": "/Users"},
    ))
    ops = r.json()["Operations"]
    assert [o["status"] for o in ops] == ["201", "409", "409", "404", "400", "400"]
    assert ops[1]["response"]["scimType"] == "uniqueness"
    assert "did not resolve" in ops[2]["response"]["detail"]
    assert ops[4]["response"]["scimType"] == "invalidValue"
    assert ops[5]["response"]["scimType"] == "invalidSyntax"
    listed = (await gateway.scim(idp, "GET", "/Users")).json()
    assert [u["userName"] for u in listed["Resources"]] == ["ok@x.org"]
    assert (await gateway.scim(idp, "GET", "/Groups")).json()["totalResults"] == 0
    log = await sync_log(gateway)
    assert sum(1 for e in log if e["outcome"] == "success" and e["operation"] == "create") == 1


async def test_fail_on_errors_stops_after_that_many(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Bulk", bulk(
        {"method": "DELETE", "path": "/Users/a"},
        {"method": "DELETE", "path": "/Users/b"},
        {"method": "POST", "path": "/Users", "bulkId": "late", "data": user_body("l@x.org")},
        failOnErrors=2,
    ))
    assert [o["status"] for o in r.json()["Operations"]] == ["404", "404"]
    assert (await gateway.scim(idp, "GET", "/Users")).json()["totalResults"] == 0


async def test_circular_references_are_refused_with_409(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Bulk", bulk(
        {"method": "POST", "path": "/Groups", "bulkId": "a", "data": group("A", "bulkId:b")},
        {"method": "POST", "path": "/Groups", "bulkId": "b", "data": group("B", "bulkId:a")},
    ))
    assert [o["status"] for o in r.json()["Operations"]] == ["409", "409"]
    assert (await gateway.scim(idp, "GET", "/Groups")).json()["totalResults"] == 0


async def test_if_match_version_and_delete(gateway, idp):
    created = (await gateway.scim(idp, "POST", "/Users", user_body())).json()
    path = f"/Users/{created['id']}"
    r = await gateway.scim(idp, "POST", "/Bulk", bulk(
        {"method": "PUT", "path": path, "version": 'W/"99"',
         "data": user_body(title="stale")},
        {"method": "DELETE", "path": path, "version": created["meta"]["version"]},
    ))
    assert [o["status"] for o in r.json()["Operations"]] == ["412", "204"]
    assert (await gateway.scim(idp, "GET", path)).status_code == 404


async def test_request_level_errors(gateway, idp):
    for body, status, scim_type in [
        ({"Operations": []}, 400, "invalidSyntax"),
        (bulk(), 400, "invalidSyntax"),
        (bulk({"method": "POST", "path": "/Users", "bulkId": "x", "data": user_body()},
              {"method": "POST", "path": "/Users", "bulkId": "x", "data": user_body("b@x")}),
         400, "invalidValue"),
        (bulk({"method": "DELETE", "path": "/Users/a"}, failOnErrors=0), 400, "invalidValue"),
    ]:
        r = await gateway.scim(idp, "POST", "/Bulk", body)
        assert r.status_code == status, r.text
        assert r.json()["scimType"] == scim_type
    assert (await gateway.scim(idp, "GET", "/Users")).json()["totalResults"] == 0
    assert (await gateway.scim(idp, "GET", "/Bulk")).status_code == 405


async def test_limits_answer_413_and_are_advertised(database):
    async with running(database, bulk_max_operations=2, bulk_max_payload=2000) as gateway:
        idp = await gateway.provider("idp")
        spc = (await gateway.scim(idp, "GET", "/ServiceProviderConfig")).json()["bulk"]
        assert spc == {"supported": True, "maxOperations": 2, "maxPayloadSize": 2000}
        three = bulk(*[{"method": "DELETE", "path": f"/Users/{i}"} for i in range(3)])
        r = await gateway.scim(idp, "POST", "/Bulk", three)
        assert r.status_code == 413 and r.json()["status"] == "413", r.text
        assert "maximum is 2" in r.json()["detail"]
        big = bulk({"method": "POST", "path": "/Users", "bulkId": "x",
                    "data": user_body(title="t" * 2000)})
        r = await gateway.scim(idp, "POST", "/Bulk", big)
        assert r.status_code == 413 and r.json()["schemas"] == [
            "urn:ietf:params:scim:api:messages:2.0:Error"]
        assert (await gateway.scim(idp, "GET", "/Users")).json()["totalResults"] == 0
        assert len(msgspec.json.encode(big)) > 2000
