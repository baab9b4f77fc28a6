"""The request middleware, seen from outside: every answer carries a request id, the sync
log and the events know it and the request's trace, and the access log names route
templates, never raw paths."""

from __future__ import annotations

import logging

import pytest

from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture
def access(caplog):
    caplog.set_level(logging.INFO, logger="identity_gateway.access")
    return lambda: [r for r in caplog.records if r.name == "identity_gateway.access"]


async def test_every_answer_has_a_request_id_and_a_sane_one_is_kept(gateway, idp):
    made = await gateway.scim(idp, "GET", "/Users")
    assert len(made.headers["x-request-id"]) == 32
    kept = await gateway.scim(idp, "GET", "/Users", headers={"X-Request-Id": "idp-req-7"})
    assert kept.headers["x-request-id"] == "idp-req-7"
    odd = await gateway.scim(idp, "GET", "/Users", headers={"X-Request-Id": "x" * 200})
    assert odd.headers["x-request-id"] != "x" * 200
    for path in ("/admin/v1/providers", "/admin/v1/nowhere", "/healthz", "/nowhere"):
        r = await gateway.client.get(path, headers=gateway.admin)
        assert len(r.headers["x-request-id"]) == 32, path


async def test_the_sync_log_and_the_event_carry_the_request_and_its_trace(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Users", user_body(), headers={
        "X-Request-Id": "idp-req-8", "traceparent": f"00-{TRACE}-{PARENT}-01"})
    assert r.status_code == 201
    log = (await gateway.admin_api("GET", "/sync-log")).json()["items"]
    assert [e["request_id"] for e in log] == ["idp-req-8"]
    event = (await gateway.admin_api("GET", "/events")).json()["items"][0]
    version, trace_id, span, flags = event["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE, "01")
    assert span != PARENT  # the gateway's own span is the parent of what follows


async def test_a_request_without_a_trace_starts_one(gateway, idp):
    await gateway.scim(idp, "POST", "/Users", user_body(), headers={"traceparent": "junk"})
    event = (await gateway.admin_api("GET", "/events")).json()["items"][0]
    assert len(event["traceparent"].split("-")[1]) == 32


async def test_the_access_log_names_the_route_template(gateway, idp, access):
    user = (await gateway.scim(idp, "POST", "/Users", user_body("x@example.com"))).json()
    await gateway.scim(idp, "GET", f"/Users/{user['id']}", headers={"User-Agent": "Okta/1"})
    await gateway.scim(idp, "GET", "/Users", params={"filter": 'userName eq "x@example.com"'})
    await gateway.scim(idp, "GET", "/Widgets/42")
    await gateway.client.get("/scim/v2/no-such-provider/Users")
    await gateway.admin_api("GET", f"/users/{user['id']}")
    lines = {(r.method, r.route, r.status) for r in access()}
    assert ("GET", "/scim/v2/{provider}/Users/{id}", 200) in lines
    assert ("GET", "/scim/v2/{provider}/Users", 200) in lines
    assert ("GET", "/scim/v2/{provider}/{kind}/{id}", 404) in lines
    assert ("GET", "/scim/v2/{provider}/Users", 401) in lines
    assert ("GET", "/admin/v1/users/{id}", 200) in lines
    read = next(r for r in access() if r.route.endswith("/Users/{id}"))
    assert read.provider == idp.id and read.user_agent == "Okta/1" and read.bytes > 0
    assert read.duration_ms > 0 and read.request_id and read.trace_id
    unknown = next(r for r in access() if r.status == 401)
    assert unknown.provider is None  # an id that names no provider is not repeated
    for record in access():
        text = record.getMessage() + repr(record.__dict__)
        assert user["id"] not in text and "x@example.com" not in text


async def test_probes_are_not_logged_while_they_succeed(gateway, access):
    await gateway.client.get("/healthz")
    await gateway.client.get("/readyz")
    assert access() == []
