"""Names, words and times in the console, in Chromium against a real `identity-gateway
serve`: people, providers and groups by their names (ids only as secondary text or in
links), actors in words, values as yes / no and "—" (never `None`, `True` or JSON), times in
the browser's own zone with how long ago, and a user's history as a timeline whose entries
show what they changed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from console_helpers import Served, first_start, open_page, shot, sign_in
from playwright.sync_api import expect

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ZONE = "America/New_York"


def ok(response: Any) -> dict:
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else {}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict]]:
    """A provider named "Okta production" that created Ada (renamed once by a PATCH) and
    Bob, a group "Engineers" with Ada in it, and Ada on legal hold."""
    with first_start(tmp_path_factory.mktemp("names")) as served:
        admin, scim = served.admin(), served.scim()
        pid = served.provider_id
        ok(admin.patch(f"/providers/{pid}", json={"name": "Okta production"}))
        ada = ok(scim.post("/Users", json={
            "schemas": [CORE], "userName": "ada@example.com", "displayName": "Ada Lovelace",
            "title": "Engineer", "active": True,
            "emails": [{"value": "ada@example.com", "type": "work", "primary": True}]}))["id"]
        bob = ok(scim.post("/Users", json={"schemas": [CORE], "userName": "bob@example.com",
                                           "active": True}))["id"]
        ok(scim.patch(f"/Users/{ada}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "title", "value": "Principal engineer"}]}))
        group = ok(scim.post("/Groups", json={"schemas": [GROUP], "displayName": "Engineers",
                                              "members": [{"value": ada}]}))["id"]
        ok(admin.post("/legal-holds", json={"user": ada, "matter": "Case 2026-014",
                                            "placed_by": "legal@example.com"}))
        yield served, {"provider": pid, "ada": ada, "bob": bob, "group": group}


@pytest.fixture
def zoned(browser: Any) -> Iterator[Any]:
    """A page in New York's time zone."""
    opened = open_page(browser, timezone_id=ZONE)
    try:
        yield opened
    finally:
        opened.context.close()


def main_text(page: Any) -> str:
    """What a person reads on the page, ids as secondary text and the SCIM data as stored
    (the raw views, a diff's values) aside."""
    return page.evaluate("""() => {
      const main = document.querySelector("main").cloneNode(true);
      main.querySelectorAll("#raw, .raw, .secondary, table.diff").forEach(e => e.remove());
      return main.innerText;
    }""")


def test_the_user_page_says_names_and_words(browser, zoned, site):
    served, ids = site
    page = zoned
    sign_in(page, served)
    page.goto(f"{served.console_url}/users/{ids['ada']}")
    expect(page.locator("h1")).to_contain_text("ada@example.com")
    expect(page.locator("h1")).to_contain_text("Ada Lovelace")
    expect(page.locator("#groups")).to_have_text("Engineers")  # not the key "engineers"
    profile = page.locator("section:has(h2:text-is('Profile')) dl")
    expect(profile.locator("dt:text-is('active') + dd")).to_have_text("yes")
    expect(profile.locator("dt:text-is('division') + dd")).to_have_text("—")
    expect(profile.locator("dt:text-is('given name')")).to_have_count(1)
    text = main_text(page)
    for raw in ("None", "True", "False", "{", "provider:", "console:"):
        assert raw not in text, f"{raw!r} on the user page: {text}"
    assert ids["provider"] not in text  # the provider by its name, its id only in links
    expect(page.locator("dt:text-is('Source') + dd")).to_have_text("Okta production")
    hold = page.locator("section.card:has(h2:text-is('Legal hold'))")
    expect(hold).to_contain_text("On legal hold for Case 2026-014, placed by "
                                 "legal@example.com on")
    expect(page.locator("#application")).not_to_contain_text("legal hold")


def test_the_history_is_a_timeline_with_what_changed(browser, zoned, site):
    served, ids = site
    page = zoned
    sign_in(page, served)
    page.goto(f"{served.console_url}/users/{ids['ada']}")
    entries = page.locator("#history .timeline-entry")
    expect(entries.first).to_contain_text("legal hold placed")  # newest first
    patch = entries.filter(has_text="changed by Okta production (IdP)")
    expect(patch).to_have_count(1)
    changed = patch.locator("table.diff").first.locator("tr.changed")  # "Show all" aside
    expect(changed).to_have_count(1)
    expect(changed).to_contain_text("title")
    expect(changed.locator("td.before")).to_have_text('"Engineer"')
    expect(changed.locator("td.after")).to_have_text('"Principal engineer"')
    expect(patch.locator(".diff-all summary")).to_contain_text("Show all")
    created = entries.filter(has_text="created by Okta production (IdP)")
    expect(created).to_have_count(1)
    expect(page.locator("#history a[href$='/sync-log?user=" + ids["ada"] + "']")).to_have_count(1)
    shot(page, "user-history")

    # A change made in the console is the admin's, in words.
    page.goto(f"{served.console_url}/users/{ids['bob']}")
    page.click("button:text-is('Block')")
    expect(page.locator("#history .timeline-entry").first).to_contain_text(
        "by admin admin (console)")
    assert "console:admin" not in main_text(page)


def test_times_are_in_the_browsers_zone_and_say_how_long_ago(browser, zoned, site):
    served, ids = site
    page = zoned
    sign_in(page, served)
    # The browser's clock three minutes ahead: the page says so as it reads it.
    page.clock.set_fixed_time(datetime.now(UTC) + timedelta(minutes=3, seconds=20))
    page.goto(f"{served.console_url}/users/{ids['ada']}")
    created = page.locator("dt:text-is('Created') + dd time")
    stamp = created.get_attribute("datetime")
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    offset = 5  # New York in standard time; 4 in summer
    if moment.month in range(4, 11):
        offset = 4
    local = (moment - timedelta(hours=offset)).strftime("%Y-%m-%d %H:%M:%S")
    expect(created.locator(".when-at")).to_have_text(re.compile(rf"^{local} E[SD]T$"))
    expect(created.locator(".when-ago")).to_have_text("(3 minutes ago)")
    assert "UTC" not in main_text(page).replace("(UTC)", "")

    # Without JavaScript the page says UTC.
    bare = open_page(browser, timezone_id=ZONE, java_script_enabled=False)
    try:
        sign_in(bare, served)
        bare.goto(f"{served.console_url}/users/{ids['ada']}")
        plain = bare.locator("dt:text-is('Created') + dd time")
        expect(plain).to_contain_text(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))
        expect(plain.locator(".when-ago")).to_have_text(
            re.compile(r"^\((just now|\d+ \w+ ago)\)$"))
    finally:
        bare.context.close()


def test_no_page_shows_an_id_or_a_raw_actor_where_a_name_exists(browser, page, site):
    served, ids = site
    sign_in(page, served)
    pid = ids["provider"]
    page.goto(f"{served.console_url}/users")
    row = page.locator("#users tr", has_text="ada@example.com")
    expect(row).to_contain_text("Ada Lovelace")
    expect(row).to_contain_text("Okta production")
    expect(row).to_contain_text("Case 2026-014")  # the legal-hold column: its matter
    ok(served.scim().patch(f"/Users/{ids['bob']}", json={"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Bob"}]}))
    page.goto(f"{served.console_url}/providers")
    expect(page.locator("table.list tbody tr").first).to_contain_text(
        "changed by Okta production (IdP)")
    page.goto(f"{served.console_url}/providers/{pid}")
    expect(page.locator("dt:text-is('Last change') + dd")).to_contain_text(
        "changed by Okta production (IdP)")
    page.goto(f"{served.console_url}/events")
    expect(page.locator("#events")).to_contain_text("user ada@example.com")
    for path in ("/", "/providers", f"/providers/{pid}", f"/providers/{pid}/guard",
                 f"/providers/{pid}/mappings", "/users", f"/users/{ids['ada']}",
                 f"/users/{ids['bob']}", "/events", "/webhooks", "/auth-failures",
                 "/settings", "/legal-holds", "/organizations"):
        page.goto(served.console_url + path)
        text = main_text(page)
        for raw in (f"provider:{pid}", "console:admin", ids["ada"], ids["group"]):
            assert raw not in text, f"{path} shows {raw!r}"
        assert not page.errors, page.errors


def test_the_held_users_of_a_tripped_guard_are_named(tmp_path: Path, browser, page):
    with first_start(tmp_path) as served:
        admin, scim = served.admin(), served.scim()
        pid = served.provider_id
        people = [ok(scim.post("/Users", json={
            "schemas": [CORE], "userName": f"held{i}@example.com",
            "displayName": f"Held Person {i}", "active": True}))["id"] for i in range(4)]
        ok(admin.patch(f"/providers/{pid}/deactivation-guard", json={
            "threshold": {"users": 2, "percent": 1}, "window": "60m"}))
        for uid in people:
            ok(scim.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [
                {"op": "replace", "path": "active", "value": False}]}))
        sign_in(page, served)
        page.goto(f"{served.console_url}/providers/{pid}/guard")
        held = page.locator("#guard-held-users tbody tr")
        expect(held.first).to_contain_text(re.compile(r"held\d@example\.com Held Person \d"))
        expect(held.first).to_contain_text("deactivated by the IdP")
        for uid in people:
            assert uid not in main_text(page)
