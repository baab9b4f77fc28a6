"""Console requests that once answered 500, or answered in another shape than a console
page, or were read silently as something else; through the app, on both stores.

Numbers the console reads from a request (a path segment, a query parameter, a form field):
anything but ASCII digits within range is a 400 console page that names the parameter and
changes nothing (Unicode digits such as '²' pass str.isdigit() and then fail int(); numbers
past 64 bits overflow the store)."""

from __future__ import annotations

import html

import httpx
import pytest

from gateway.testing import Harness, running, scim_user

pytestmark = pytest.mark.anyio

BIG = "99999999999999999999"  # past 2^63
SUP2 = "%C2%B2"  # '²': str.isdigit() says yes, int() says no


def console_refusal(r: httpx.Response, name: str) -> str:
    """The console's error page, 400, naming the parameter; its text."""
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("text/html")
    text = html.unescape(r.text)
    assert f"'{name}' must be a whole number from" in text or \
        f"{name} must be a whole number from" in text, text
    return text


@pytest.fixture
async def console(database):
    async with running(database, enabled=["legal_hold", "org_mapping"]) as gw:
        gw.csrf = await gw.console_sign_in()
        yield gw


@pytest.mark.parametrize(("path", "name"), [
    (f"/console/sync-log/{BIG}", "seq"),
    (f"/console/sync-log/{SUP2}", "seq"),
    (f"/console/sync-log/new?after={SUP2}", "after"),
    (f"/console/sync-log/new?after={BIG}", "after"),
    (f"/console/events?before={BIG}", "before"),
    (f"/console/events?before={SUP2}", "before"),
    ("/console/events?before=-1", "before"),
    (f"/console/legal-holds?cursor={BIG}", "cursor"),
    (f"/console/legal-holds?cursor={SUP2}", "cursor"),
    ("/console/legal-holds?cursor=1e30", "cursor"),
])
async def test_a_number_in_a_page_address(console: Harness, path, name):
    console_refusal(await console.client.get(path), name)


async def dead_letter(gw: Harness) -> str:
    """A webhook with event 1 dead-lettered (the event of a user's creation)."""
    idp = await gw.provider("idp")
    await gw.scim(idp, "POST", "/Users", scim_user("a@example.com"))
    async with gw.gw.store.write() as conn:
        await conn.execute("INSERT INTO webhooks (id, url, secret, events, cursor, created_at)"
                           " VALUES ('w1', 'https://receiver.example/h', "
                           "'sixteen-chars-secret', '[\"*\"]', 1, 'now')")
        await conn.execute("INSERT INTO deliveries (webhook_id, seq, resource_key, status,"
                           " attempts, next_attempt_at, last_error) VALUES ('w1', 1, 'k',"
                           " 'dead', 10, 'x', 'HTTP 500')")
    return "w1"


@pytest.mark.parametrize("seq", ["\u00b2", BIG, "abc", "-1", " "])
async def test_a_redelivered_seq(console: Harness, seq):
    """Before, '²' and the big number answered 500, and a seq that was not digits ('abc')
    was dropped, which made the request mean "redeliver every dead letter"."""
    hook = await dead_letter(console)
    r = await console.client.post(f"/console/webhooks/{hook}/redeliver",
                                  data={"seq": seq, "csrf_token": console.csrf})
    console_refusal(r, "seq")
    letters = (await console.admin_api("GET", f"/webhooks/{hook}/dead-letters")).json()
    assert [d["seq"] for d in letters["items"]] == [1]


@pytest.mark.parametrize("users", [str(10**23), "\u00b2", "-3", "1e3"])
async def test_the_guard_threshold(console: Harness, users):
    idp = await console.provider("idp")
    before = (await console.admin_api("GET", f"/providers/{idp.id}/deactivation-guard")).json()
    r = await console.client.post(f"/console/providers/{idp.id}/guard", data={
        "users": users, "percent": "5", "window": "60m", "enabled": "on",
        "csrf_token": console.csrf})
    console_refusal(r, "The number of users")
    after = (await console.admin_api("GET", f"/providers/{idp.id}/deactivation-guard")).json()
    assert after == before


@pytest.mark.parametrize("priority", [str(10**23), "\u00b2", "1.5"])
async def test_an_org_mapping_priority(console: Harness, priority):
    idp = await console.provider("idp")
    group = (await console.scim(idp, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Engineers"})).json()["id"]
    assert (await console.admin_api("POST", "/organizations", {"name": "Eng"})).status_code \
        == 201
    before = (await console.admin_api("GET", f"/providers/{idp.id}/org-mapping")).json()
    r = await console.client.post(f"/console/org-mapping/{idp.id}/organizations", data={
        "method": "scim_groups", "group_1": group, "organization_1": "Eng",
        "priority_1": priority, "csrf_token": console.csrf})
    console_refusal(r, "the priority of every group")
    assert (await console.admin_api("GET", f"/providers/{idp.id}/org-mapping")).json() \
        == before


@pytest.mark.parametrize("body", [b"\xff\xfe", b"--x\r\nno headers\r\n"])
async def test_a_malformed_multipart_form_is_a_console_page(console: Harness, body):
    """Starlette refuses it with a plain-text 400; the console answers with its own page."""
    r = await console.client.post("/console/roles/new", content=body, headers={
        "Content-Type": "multipart/form-data; boundary=x", "X-CSRF-Token": console.csrf})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "The form could not be read" in r.text
    roles = (await console.admin_api("GET", "/roles")).json()
    assert roles["items"] == []
