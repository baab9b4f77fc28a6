"""A provider's traffic on its console pages: the connection check (a wrong secret is shown
as refused, a rotation waits again), the activity chart and its totals (updating while the
page is open), who may read them; and the chart's SVG itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from console_helpers import shot, sign_in
from playwright.sync_api import expect

from gateway.console.activity import BUCKETS, chart, summary_text, totals

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
REFUSED = "A request arrived but its credential was refused"
WAITING = "Waiting for the first request from the SCIM client"


def admin_api(served, path: str) -> dict:
    r = httpx.get(f"{served.url}/admin/v1{path}",
                  headers={"Authorization": f"Bearer {served.admin_token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_wrong_secret_shows_as_a_refused_credential(served, page):
    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{served.provider_id}")
    check = page.locator("#connection")
    expect(check).to_contain_text(WAITING)

    assert served.scim("not-the-secret").get("/Users").status_code == 401
    expect(check).to_contain_text(REFUSED)
    expect(check).to_contain_text("not this provider's current one")
    expect(check).to_have_attribute("data-state", "refused")

    assert served.scim(served.bearer).get("/Users", params={"count": 1}).status_code == 200
    expect(check).to_contain_text("Connected")
    expect(check).to_contain_text("GET /Users?count=1")
    expect(check).to_contain_text("Read a page of users")
    assert page.errors == []


def test_after_a_rotation_the_page_waits_for_the_new_secret(served, page):
    old = served.scim(served.bearer)
    assert old.get("/Users").status_code == 200
    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{served.provider_id}")
    expect(page.locator("#connection")).to_contain_text("Connected")
    assert page.locator("#connection").get_attribute("data-poll") is None  # nothing to wait for

    page.click("nav.tabs >> text=Credential")
    page.click("text=Rotate credential…")
    page.click("button:has-text('Rotate now')")
    check = page.locator("#connection")
    expect(check).to_contain_text(WAITING)
    new_token = page.locator(".secret-row", has_text="Bearer token").locator("code").inner_text()

    # The IdP still sends the old secret: it reached the gateway, but it is refused.
    assert old.get("/Users").status_code == 401
    expect(check).to_contain_text(REFUSED)
    page.goto(f"{served.console_url}/providers/{served.provider_id}")
    check = page.locator("#connection")
    expect(check).to_contain_text(REFUSED)  # as rendered, before any poll
    fact = page.locator(".facts div", has=page.locator(
        "dt", has_text="Refused credentials in the last hour"))
    expect(fact.locator("dd")).to_have_text("1")

    assert served.scim(new_token).get("/Users/does-not-exist").status_code == 404
    expect(check).to_contain_text("Connected")
    expect(check).to_contain_text("GET /Users/does-not-exist")
    expect(check).to_contain_text("Read a user")
    assert page.errors == []


def a_user(name: str) -> dict:
    return {"schemas": [CORE], "userName": name, "active": True}


def chart_numbers(text: str) -> tuple[int, int]:
    found = re.search(r"(\d+) requests? and (\d+) errors? in the last 24 hours", text)
    assert found, text
    return int(found.group(1)), int(found.group(2))


def test_the_chart_counts_requests_and_errors_while_the_page_is_open(served, page):
    client = served.scim(served.bearer)
    for name in ("ann@example.com", "bob@example.com", "cy@example.com"):
        assert client.post("/Users", json=a_user(name)).status_code == 201
    assert client.post("/Users", json=a_user("ann@example.com")).status_code == 409
    assert client.patch("/Users/nobody", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}]}).status_code == 404
    assert client.get("/Users/nobody").status_code == 404  # a read's 404 is no error

    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{served.provider_id}")
    summary = page.locator("#activity-summary")
    assert chart_numbers(summary.inner_text()) == (6, 2)
    seen = admin_api(served, f"/providers/{served.provider_id}/activity")
    assert (seen["requests_24h"], seen["errors_24h"]) == (6, 2)
    peak = max(m["requests"] for m in seen["series"])
    assert f"peak {peak} request" in summary.inner_text()
    svg = page.locator("#activity svg.chart")
    assert svg.get_attribute("role") == "img"
    assert "6 requests and 2 errors" in svg.locator("title").first.text_content()
    assert svg.locator("rect.req").count() >= 1 and svg.locator("rect.err").count() >= 1
    shot(page, "provider-activity")

    # More requests: the totals move without a reload.
    for _ in range(4):
        assert client.get("/Users", params={"count": 1}).status_code == 200
    assert client.post("/Users", json=a_user("bob@example.com")).status_code == 409
    expect(summary).to_contain_text("11 requests and 3 errors", timeout=20_000)

    # The providers list: the last request, its outcome and the hour's errors.
    page.click("nav >> text=Providers")
    row = page.locator("table.list tbody tr").first
    expect(row.locator("td.seen")).to_contain_text("POST /Users")
    expect(row.locator("td.seen .outcome-error")).to_have_text("409")
    assert row.locator("td.num").nth(2).inner_text() == "3"
    assert page.errors == []


def signed_in_client(served, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=served.url, timeout=10)
    form = client.get("/console/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = client.post("/console/sign-in", data={"username": name, "password": password,
                                              "csrf_token": token})
    assert r.status_code == 303, r.text
    return client


def test_the_connection_check_needs_a_session_and_an_auditor_may_read_it(served):
    pid = served.provider_id
    for path in (f"/console/providers/{pid}/connection", f"/console/providers/{pid}/activity"):
        r = httpx.get(served.url + path, timeout=10)
        assert r.status_code == 303 and r.headers["location"].startswith(
            "/console/sign-in?next="), (path, r.status_code)
    added = served.cli("admin", "add", "audrey", "--role", "auditor", "--password-stdin",
                       stdin="a long auditor password\n")
    assert added.returncode == 0, added.stderr
    auditor = signed_in_client(served, "audrey", "a long auditor password")
    found = auditor.get(f"/console/providers/{pid}/connection").json()
    assert found["state"] == "waiting" and found["done"] is False
    assert "Waiting for the first request" in found["html"]
    assert served.scim("wrong").get("/Users").status_code == 401
    found = auditor.get(f"/console/providers/{pid}/connection").json()
    assert found["state"] == "refused"
    assert found["connection"]["refused"]["reasons"] == {"unknown_credential": 1}
    assert served.scim(served.bearer).get("/Users", params={"count": 1}).status_code == 200
    found = auditor.get(f"/console/providers/{pid}/connection").json()
    assert found["state"] == "connected" and found["done"] is True
    assert served.bearer not in found["html"]
    chart_part = auditor.get(f"/console/providers/{pid}/activity").json()
    assert "<svg" in chart_part["html"] and "2 requests and 1 error" in chart_part["html"]
    r = auditor.get("/console/providers/nope/connection")
    assert r.status_code == 404


def test_the_chart_is_an_accessible_svg_without_style_attributes():
    now = datetime(2026, 3, 1, 12, 7, tzinfo=UTC)
    series = [{"minute": "2026-03-01T12:01:00Z", "requests": 5, "errors": 1},
              {"minute": "2026-03-01T12:06:00Z", "requests": 2, "errors": 0},
              {"minute": "2026-02-28T12:30:00Z", "requests": 3, "errors": 3}]
    svg = str(chart(series, now, chart_id='x"<'))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "style" not in svg and "<script" not in svg and 'x"<' not in svg
    assert 'role="img"' in svg and "10 requests and 4 errors" in svg
    assert svg.count('class="req"') == 2 and svg.count('class="err"') == 2
    assert "12:00–12:15 UTC: 7 requests, 1 error" in svg
    assert totals(series) == {"requests": 10, "errors": 4, "peak": 5}
    assert summary_text(totals([])) == ("0 requests and 0 errors in the last 24 hours; "
                                        "peak 0 requests per minute")
    empty = str(chart([], now))
    assert "No requests in the last 24 hours" in empty and "<rect" not in empty
    assert BUCKETS == 96
