"""The console in Chromium against a real `identity-gateway serve`: the provider page's
"Unique group names" setting (on by default for an Entra provider) and its list of groups
that share a name; the sync log's `unchanged` entries, and the outcome filter that hides
them."""

from __future__ import annotations

from console_helpers import sign_in
from playwright.sync_api import expect

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_unique_group_names_on_the_provider_page(served, page):
    pid = served.provider_id
    scim = served.scim()
    ids = [scim.post("/Groups", json={"schemas": [GROUP], "displayName": name}).json()["id"]
           for name in ("Ops", "OPS")]
    entra = served.admin().post("/providers", json={"name": "Entra", "plugin": "entra"})
    assert entra.status_code == 201, entra.text

    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{entra.json()['id']}/settings")
    expect(page.locator("input[type=checkbox][name=unique_group_names]")).to_be_checked()
    expect(page.locator("#duplicate-group-names")).to_have_count(0)

    page.goto(f"{served.console_url}/providers/{pid}/settings")
    box = page.locator("input[type=checkbox][name=unique_group_names]")
    expect(box).not_to_be_checked()
    listed = page.locator("#duplicate-group-names-list tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Ops")
    for gid in ids:
        expect(listed).to_contain_text(gid)

    box.check()
    page.click("button:has-text('Save settings')")
    expect(page.locator(".flash")).to_have_text("Settings saved")
    expect(box).to_be_checked()
    expect(page.locator("#duplicate-group-names")).to_contain_text("unique for this provider")
    assert served.admin().get(f"/providers/{pid}").json()["unique_group_names"] is True
    third = scim.post("/Groups", json={"schemas": [GROUP], "displayName": "ops"})
    assert third.status_code == 409 and third.json()["scimType"] == "uniqueness"

    box.uncheck()
    page.click("button:has-text('Save settings')")
    expect(box).not_to_be_checked()
    assert served.admin().get(f"/providers/{pid}").json()["unique_group_names"] is False
    assert page.errors == []


def test_the_sync_log_shows_and_hides_unchanged_pushes(served, page):
    scim = served.scim()
    user = {"schemas": [CORE], "userName": "grace@example.com", "active": True,
            "title": "Buyer"}
    uid = scim.post("/Users", json=user).json()["id"]
    again = scim.put(f"/Users/{uid}", json={**user, "id": uid})
    assert again.status_code == 200, again.text

    sign_in(page, served)
    page.goto(f"{served.console_url}/sync-log?user={uid}")
    rows = page.locator("#sync-log tbody tr")
    unchanged = rows.filter(has_text="unchanged")
    expect(unchanged).to_have_count(1)
    expect(unchanged).to_contain_text("replaced")
    expect(unchanged).to_contain_text("grace@example.com")
    shown = rows.count()  # with the org_mapping plugin's placement of the new user
    unchanged.locator("td:nth-child(2) a").click()
    expect(page.locator("h2")).to_have_text("What was received")
    expect(page.locator("#diff")).to_contain_text("Buyer")

    page.goto(f"{served.console_url}/sync-log?user={uid}")
    page.select_option("select[name=outcome]", label="success or error (hide unchanged)")
    page.click("button:has-text('Filter')")
    expect(rows).to_have_count(shown - 1)
    expect(unchanged).to_have_count(0)
    expect(page.locator("a:has-text('Export CSV')")).to_have_attribute(
        "href", f"/console/sync-log/export?user={uid}&outcome=success%2Cerror")
    assert page.errors == []
