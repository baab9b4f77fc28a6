"""The console's guards in Chromium and over plain HTTP: an auditor changes nothing, a
change without the session's CSRF token is refused, hostile attribute values stay text,
repeated failed sign-ins lock the name out."""

from __future__ import annotations

import re

import httpx
from console_helpers import sign_in
from playwright.sync_api import expect

XSS = '<script>window.owned=1</script><img src=x onerror="window.owned=1">'


def a_user(served, user_name: str, **extra) -> str:
    r = served.scim().post("/Users", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
        **extra})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_an_auditor_sees_everything_and_changes_nothing(served, page):
    added = served.cli("admin", "add", "audrey", "--role", "auditor", "--password-stdin",
                       stdin="a long auditor password\n")
    assert added.returncode == 0, added.stderr
    uid = a_user(served, "victim@example.com")
    sign_in(page, served, "audrey", "a long auditor password")
    for path in ("/providers", "/users", f"/users/{uid}", "/sync-log", "/webhooks",
                 "/events", "/settings", "/organizations", "/legal-holds"):
        page.goto(served.console_url + path)
        assert page.locator("main h1").count() == 1, path
        assert page.locator("main form[method=post]").count() == 0, path  # no change offered
    # Forms an admin would post, with the auditor's own valid CSRF token: 403 each.
    csrf = page.locator("header input[name=csrf_token]").get_attribute("value")
    provider = served.scim_base.rsplit("/", 1)[1]
    for path, form in [(f"/users/{uid}/action", {"action": "deactivate"}),
                       ("/providers/new", {"name": "x", "idp": "", "kind": "bearer"}),
                       (f"/providers/{provider}/rotate", {}),
                       ("/legal-holds/place", {"user": uid, "matter": "m"}),
                       ("/webhooks/new", {"url": "https://example.com/h"})]:
        r = page.request.post(served.console_url + path, form={"csrf_token": csrf, **form},
                              max_redirects=0)
        assert r.status == 403, (path, r.status)
    r = httpx.get(f"{served.url}/admin/v1/users/{uid}",
                  headers={"Authorization": f"Bearer {served.admin_token}"})
    assert r.json()["state"] == "active"
    page.click("text=Sign out")  # signing out is no change
    assert "/console/sign-in" in page.url


def test_a_change_without_the_csrf_token_is_refused(served):
    uid = a_user(served, "target@example.com")
    client = httpx.Client(base_url=served.url, timeout=10)
    # The sign-in form has its own token too.
    client.get("/console/sign-in")
    assert client.post("/console/sign-in", data={
        "username": "admin", "password": served.password}).status_code == 403
    form = client.get("/console/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    client.post("/console/sign-in", data={"username": "admin", "password": served.password,
                                          "csrf_token": token})
    page = client.get(f"/console/users/{uid}")
    assert page.status_code == 200
    for data in ({"action": "block"}, {"action": "block", "csrf_token": "forged"}):
        r = client.post(f"/console/users/{uid}/action", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    state = httpx.get(f"{served.url}/admin/v1/users/{uid}",
                      headers={"Authorization": f"Bearer {served.admin_token}"}).json()
    assert state["state"] == "active"
    real = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(f"/console/users/{uid}/action", data={"action": "block",
                                                          "csrf_token": real})
    assert r.status_code == 303
    log = httpx.get(f"{served.url}/admin/v1/sync-log", params={"user": uid,
                                                               "operation": "block"},
                    headers={"Authorization": f"Bearer {served.admin_token}"}).json()
    assert [e["actor"] for e in log["items"]] == ["console:admin"]


def test_hostile_attribute_values_render_as_text(served, page):
    uid = a_user(served, "<script>alert(1)</script>@example.com", displayName=XSS,
                 title=XSS, name={"givenName": XSS, "familyName": "</pre><b>bold</b>"})
    sign_in(page, served)
    page.goto(f"{served.console_url}/users")
    assert "<script>alert(1)</script>@example.com" in page.locator("#users").inner_text()
    page.goto(f"{served.console_url}/users/{uid}")
    expect(page.locator("h1")).to_have_text(f"<script>alert(1)</script>@example.com {XSS}")
    expect(page.locator("h1 .subtitle")).to_have_text(XSS)  # the display name, as text
    assert "<script>window.owned=1</script>" in page.locator("#raw").inner_text()
    page.goto(f"{served.console_url}/sync-log?user={uid}")
    created = page.locator("#sync-log tbody tr").filter(
        has=page.locator("td:nth-child(2)", has_text=re.compile("^created")))
    assert "<script>alert(1)</script>@example.com" in created.locator("td").first.inner_text()
    created.locator("td:nth-child(2) a").first.click()
    assert "onerror" in page.locator("#diff").inner_text()
    assert page.evaluate("window.owned") is None
    assert page.locator("main b, main img, main script").count() == 0
    headers = page.request.get(f"{served.console_url}/users").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_repeated_failed_sign_ins_lock_the_name_out(served):
    client = httpx.Client(base_url=served.url, timeout=30)

    def attempt(password: str) -> httpx.Response:
        form = client.get("/console/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        return client.post("/console/sign-in", data={"username": "admin",
                                                     "password": password,
                                                     "csrf_token": token})

    assert [attempt("wrong password!").status_code for _ in range(4)] == [401] * 4
    fifth = attempt("wrong password!")
    assert fifth.status_code == 401
    locked = attempt(served.password)  # even the right password waits now
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert int(locked.headers.get("retry-after", "0")) > 0 or "try again" in locked.text
