"""The seeds' Okta story, end to end in Chromium against a real `identity-gateway serve`:
an admin connects Okta (the connection check sees Okta's test arrive), Okta provisions,
the admin maps organizations and roles, applies them, finds a user, reads its sync log,
exports it, places a legal hold, signs out."""

from __future__ import annotations

import base64
import csv
import io
import re

import httpx
from console_helpers import shot, sign_in
from playwright.sync_api import expect

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def okta_user(name: str, given: str, family: str) -> dict:
    """A user as Okta's provisioning creates it (its SCIM 2.0 request)."""
    return {"schemas": [CORE], "userName": name, "active": True,
            "name": {"givenName": given, "familyName": family},
            "emails": [{"primary": True, "value": name, "type": "work"}],
            "displayName": f"{given} {family}", "locale": "en-US", "groups": []}


def copied(page, label: str) -> str:
    """Click the Copy button next to the field and read what landed on the clipboard."""
    row = page.locator(".secret-row", has=page.locator("dt", has_text=re.compile(f"^{label}")))
    row.locator("button.copy").click()
    value = page.evaluate("navigator.clipboard.readText()")
    assert value == row.locator("code").inner_text()
    return value


def test_okta_story(served, page):
    sign_in(page, served)
    page.click("nav >> text=Providers")
    shot(page, "providers")

    # Add provisioning provider: Okta, API credentials.
    page.click("text=Add provisioning provider")
    page.fill("input[name=name]", "Okta")
    page.check("input[name=idp][value=okta]")
    page.select_option("select[name=kind]", label="API credentials")
    shot(page, "add-provider")
    page.click("button:has-text('Create provider')")
    expect(page.locator("h2").first).to_have_text("Next steps in Okta")
    assert "Test API Credentials" in page.locator("ol.steps").inner_text()
    check = page.locator("#connection")
    expect(check).to_contain_text("Waiting for the first request from Okta")
    shot(page, "provider-credentials")
    base = copied(page, "Base URL")
    username = copied(page, "Username")
    password = copied(page, "Password")
    assert base.startswith(f"{served.url}/scim/v2/")

    # Okta: Test API Credentials, create users, push a group with members.
    auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    okta = httpx.Client(base_url=base, timeout=10, headers={
        "Authorization": auth, "Content-Type": "application/scim+json"})
    probe = okta.get("/Users", params={"filter": 'userName eq "x@example.com"',
                                       "startIndex": 1, "count": 2})
    assert probe.status_code == 200 and probe.json()["totalResults"] == 0
    # The page saw it arrive, without a reload.
    expect(check).to_contain_text("Connected")
    expect(check).to_contain_text("GET /Users")
    expect(check).to_contain_text("Okta's Test API Credentials")
    assert "Waiting" not in check.inner_text()
    shot(page, "provider-connected")
    ids = {}
    for name, given, family in [("ada@example.com", "Ada", "Lovelace"),
                                ("grace@example.com", "Grace", "Hopper"),
                                ("linus@example.com", "Linus", "Torvalds")]:
        r = okta.post("/Users", json=okta_user(name, given, family))
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    sales = okta.post("/Groups", json={"schemas": [GROUP], "displayName": "Sales", "members": [
        {"value": ids["ada@example.com"], "display": "ada@example.com"},
        {"value": ids["grace@example.com"], "display": "grace@example.com"}]})
    support = okta.post("/Groups", json={"schemas": [GROUP], "displayName": "Support",
                                         "members": [{"value": ids["linus@example.com"]}]})
    assert sales.status_code == support.status_code == 201

    # Organizations must exist for the SCIM-group method.
    page.click("nav >> text=Organizations and roles")
    for name in ("Sales EMEA", "Support"):
        page.fill("form[action='/console/organizations/new'] input[name=name]", name)
        page.click("button:has-text('Create organization')")
        expect(page.locator(".flash")).to_contain_text(f"Organization '{name}' created")

    # The provider's page: SCIM-group organization mapping.
    page.click("nav >> text=Providers")
    page.click("table.list >> text=Okta")
    page.click("nav.tabs >> text=Mappings")
    panel = page.locator("section.panel", has_text="Organization mapping")
    panel.locator("select[name=method]").select_option("scim_groups")
    panel.locator("select[name=group_new]").select_option(label="Sales")
    panel.locator("select[name=organization_new]").select_option(label="Sales EMEA")
    panel.locator("input[name=priority_new]").fill("10")
    panel.locator("button:has-text('Save organization mapping')").click()
    expect(page.locator(".flash")).to_have_text("Organization mapping saved")
    panel = page.locator("section.panel", has_text="Organization mapping")
    panel.locator("select[name=group_new]").select_option(label="Support")
    panel.locator("select[name=organization_new]").select_option(label="Support")
    panel.locator("input[name=priority_new]").fill("5")
    panel.locator("button:has-text('Save organization mapping')").click()
    assert page.locator("#org-groups").inner_text().count("\n") >= 2

    # Role mapping: only unmapped groups are offered, until all are mapped.
    picker = page.locator("#role-mapping select[name=group]")
    assert sorted(picker.locator("option").all_inner_texts()) == ["Sales", "Support"]
    expect(page.locator("#role-status")).to_have_text("2 of 2 SCIM groups are not mapped")
    picker.select_option(label="Sales")
    page.check("#role-mapping input[name=roles][value=member]")
    page.click("#role-mapping button:has-text('Map group')")
    picker = page.locator("#role-mapping select[name=group]")
    assert picker.locator("option").all_inner_texts() == ["Support"]
    page.check("#role-mapping input[name=roles][value=manager]")
    page.check("#role-mapping input[name=roles][value=member]")
    page.click("#role-mapping button:has-text('Map group')")
    expect(page.locator("#role-status")).to_have_text("All SCIM groups are mapped")
    assert page.locator("#role-mapping").count() == 0
    shot(page, "provider-mapping")

    # Apply org and role settings: it runs in the background; the status line follows it
    # to the counts it changed.
    page.click("button:has-text('Apply org and role settings')")
    expect(page.locator("#apply-status")).to_contain_text(
        re.compile(r"^Org and role settings applied to 3 users"))
    expect(page.locator("#apply-when")).to_contain_text("Applied by admin admin (console)")

    # Find a user and see its organization and roles.
    page.click("nav >> text=Users")
    page.fill("input[name=q]", "grace")
    page.click("button:has-text('Filter')")
    rows = page.locator("#users tbody tr")
    assert rows.count() == 1
    shot(page, "users")
    rows.locator("a").first.click()
    application = page.locator("#application").inner_text()
    assert "Sales EMEA" in application and "member" in application
    shot(page, "user")

    # Its sync-log entry and the diff.
    page.click("text=The whole sync log of this user")
    entries = page.locator("#sync-log tbody tr", has_text="mapping changed").locator(
        "td:nth-child(2) a")
    links = [entries.nth(i).get_attribute("href") for i in range(entries.count())]
    diffs = []
    for link in links:  # placed at creation; moved and given roles by the apply
        page.goto(served.url + link)
        diffs.append(page.locator("#diff").inner_text())
        if "Sales EMEA" in diffs[-1]:
            break
    assert "organization" in diffs[-1] and "Sales EMEA" in diffs[-1], diffs
    shot(page, "sync-log-entry")
    page.goto(f"{served.console_url}/sync-log?user={ids['grace@example.com']}")
    shot(page, "sync-log")

    # CSV export of the current filter.
    with page.expect_download() as download:
        page.click("text=Export CSV")
    text = open(download.value.path(), encoding="utf-8").read()
    rows_csv = list(csv.DictReader(io.StringIO(text)))
    assert rows_csv and {r["resource_id"] for r in rows_csv} == {ids["grace@example.com"]}
    assert {"create", "map"} <= {r["operation"] for r in rows_csv}

    # Legal hold from the user's page.
    page.goto(f"{served.console_url}/users/{ids['grace@example.com']}")
    hold = page.locator("section.panel", has_text="Legal hold")
    hold.locator("input[name=matter]").fill("Case 2026-014")
    hold.locator("button:has-text('Place on legal hold')").click()
    expect(page.locator(".flash")).to_have_text("Legal hold placed")
    assert "Case 2026-014" in page.locator("section.panel", has_text="Legal hold").inner_text()
    entries = httpx.get(f"{served.url}/admin/v1/sync-log",
                        params={"user": ids["grace@example.com"],
                                "operation": "legal_hold_place"},
                        headers={"Authorization": f"Bearer {served.admin_token}"}).json()
    assert [e["actor"] for e in entries["items"]] == ["console:admin"]

    page.click("text=Sign out")
    expect(page.locator(".flash")).to_have_text("Signed out")
    assert page.errors == []
