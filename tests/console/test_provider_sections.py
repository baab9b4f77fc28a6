"""A provider's page in sections, in Chromium against a real `identity-gateway serve`: each
section is its own address, reached from the others by keyboard, and each is short at 1280
px with a provider that has users, groups, mappings, custom attributes and held
deactivations."""

from __future__ import annotations

import re

from console_helpers import shot, sign_in
from playwright.sync_api import expect

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
EXTENSION = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
SECTIONS = ["Overview", "Settings", "Attributes", "Mappings", "Guard", "Credential"]
# What each section holds, and what it must not (the long page held everything).
OWN = {"Overview": "#connection", "Settings": "#settings", "Attributes": "#custom-attributes",
       "Mappings": "#org-mapping", "Guard": "#guard", "Credential": "#credential"}
TALLEST = 1600  # px at 1280 x 900: the one page these sections replace was 3,500 px tall


def seed(served) -> list[str]:
    """Users, groups (two of them sharing a name), an undeclared attribute, org, role and
    watchlist mappings, and a guard that has tripped and holds deactivations."""
    scim, api, pid = served.scim(), served.admin(), served.provider_id
    users = []
    for i in range(8):
        r = scim.post("/Users", json={"schemas": [CORE, EXTENSION], "userName":
                                      f"user{i}@example.com", "active": True,
                                      EXTENSION: {"costCenter": f"CC{i}"}})
        assert r.status_code == 201, r.text
        users.append(r.json()["id"])
    groups = []
    for name in ("Sales", "Support", "Engineering", "Finance", "sales"):
        r = scim.post("/Groups", json={"schemas": [GROUP], "displayName": name,
                                       "members": [{"value": users[0]}]})
        assert r.status_code == 201, r.text
        groups.append(r.json()["id"])
    for name in ("Sales EMEA", "Support"):
        assert api.post("/organizations", json={"name": name}).status_code == 201
    assert api.post("/watchlists", json={"name": "Privileged"}).status_code == 201
    assert api.put(f"/providers/{pid}/org-mapping", json={
        "method": "scim_groups", "groups": [
            {"group": groups[0], "organization": "Sales EMEA", "priority": 10},
            {"group": groups[1], "organization": "Support", "priority": 5}]}).status_code == 200
    assert api.put(f"/providers/{pid}/role-mapping", json={"mappings": [
        {"group": groups[0], "roles": ["member"]},
        {"group": groups[2], "roles": ["manager"]}]}).status_code == 200
    assert api.put(f"/providers/{pid}/watchlist-mapping", json={"mappings": [
        {"group": groups[3], "watchlists": ["Privileged"]}]}).status_code == 200
    assert api.patch(f"/providers/{pid}/deactivation-guard", json={
        "threshold": {"users": 2, "percent": 1}, "window": "60m"}).status_code == 200
    for uid in users[:5]:
        r = scim.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "active", "value": False}]})
        assert r.status_code == 200, r.text
    return users


def test_each_section_has_its_address_is_reached_by_keyboard_and_is_short(served, page):
    seed(served)
    sign_in(page, served)
    base = f"{served.console_url}/providers/{served.provider_id}"
    page.goto(base)
    tabs = page.locator("nav.tabs a")
    expect(tabs).to_have_text(SECTIONS)
    current = page.locator("nav.tabs a[aria-current=page]")

    for index, name in enumerate(SECTIONS):
        expect(current).to_have_text(name)
        assert page.url == base + ("" if name == "Overview" else f"/{name.lower()}")
        assert page.title() == ("default" if name == "Overview" else f"default: {name}") \
            + " · identity-gateway"
        for other, selector in OWN.items():
            expect(page.locator(selector)).to_have_count(1 if other == name else 0)
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < TALLEST, (name, height)
        if name == "Overview":
            shot(page, "provider-sections")
        if index + 1 < len(SECTIONS):
            # From the current section's link, Tab reaches the next one and Enter opens it.
            current.focus()
            page.keyboard.press("Tab")
            expect(page.locator(":focus")).to_have_text(SECTIONS[index + 1])
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(f".*/{SECTIONS[index + 1].lower()}$"))

    # Every section is its own address: a reload or a link lands on it.
    page.goto(base + "/guard")
    expect(page.locator("#guard-state")).to_have_text("tripped")
    expect(page.locator(".alert[data-guard-tripped]")).to_contain_text("holds 3")
    page.goto(base + "/settings")
    expect(page.locator("#duplicate-group-names-list")).to_contain_text("Sales")
    assert page.goto(f"{served.console_url}/providers/nosuch/guard").status == 404
    assert page.errors == []


def test_a_change_comes_back_to_its_section(served, page):
    users = seed(served)
    sign_in(page, served)
    base = f"{served.console_url}/providers/{served.provider_id}"
    page.goto(base + "/settings")
    page.fill("#settings input[name=deactivation_delay]", "30m")
    page.click("#settings button:has-text('Save settings')")
    expect(page.locator(".flash")).to_have_text("Settings saved")
    assert page.url == base + "/settings"
    expect(page.locator("#settings input[name=deactivation_delay]")).to_have_value("30m")

    # A user's page links to the section it speaks of: an undeclared attribute, declared.
    page.goto(f"{served.console_url}/users/{users[7]}")
    page.click("#custom-attributes a:has-text('declare it')")
    assert page.url == base + "/attributes"
    row = page.locator("#undeclared-attributes tr", has_text=f"{EXTENSION}:costCenter")
    row.locator("button", has_text="Declare").click()
    expect(page.locator(".flash")).to_contain_text(f"Declared {EXTENSION}:costCenter")
    assert page.url == base + "/attributes"

    page.click("nav.tabs >> text=Guard")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#guard button:has-text('Discard held deactivations')")
    expect(page.locator(".flash")).to_contain_text("Discarded 3 held deactivations")
    assert page.url == base + "/guard"
    expect(page.locator("#guard-state")).to_have_text("armed")

    assert page.errors == []
