"""The sync log read by an admin in Chromium: who, what, by whom, when, outcome in names and
words, filtered by a user's name or email, a group's name, a provider's name; and an
entry's diff with only the changed attributes, highlighted, the rest behind Show all."""

from __future__ import annotations

from typing import Any

import httpx
from console_helpers import Served, sign_in

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def user(name: str, email: str, display: str) -> dict:
    return {"schemas": [CORE], "userName": name, "displayName": display, "active": True,
            "name": {"givenName": display.split()[0], "familyName": display.split()[-1]},
            "emails": [{"value": email, "type": "work", "primary": True}]}


def seed(served: Served) -> dict[str, Any]:
    """Two providers' users and groups, a change and a deletion."""
    admin = served.admin()
    okta = admin.post("/providers", json={"name": "Okta production"}).json()
    ids: dict[str, Any] = {"okta": okta["id"]}
    with served.scim() as scim:
        for name, email, display in (("alice", "alice.smith@corp.example", "Alice Smith"),
                                     ("bob", "bob@corp.example", "Bob Jones")):
            ids[name] = scim.post("/Users", json=user(name, email, display)).json()["id"]
        ids["eng"] = scim.post("/Groups", json={"displayName": "Engineering", "members": [
            {"value": ids["alice"]}]}).json()["id"]
        scim.post("/Groups", json={"displayName": "Sales"})
        scim.patch(f"/Users/{ids['alice']}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "title", "value": "Staff engineer"}]})
        scim.delete(f"/Users/{ids['bob']}")
    with httpx.Client(base_url=f"{served.url}/scim/v2/{okta['id']}", timeout=10, headers={
            "Authorization": f"Bearer {okta['credentials']['Bearer token']}"}) as scim:
        r = scim.post("/Users", json=user("carol", "carol@corp.example", "Carol Diaz"))
        assert r.status_code == 201, r.text
    return ids


def rows(page: Any) -> list[list[str]]:
    cells = page.locator("#sync-log tbody tr")
    return [[" ".join(c.split()) for c in cells.nth(i).locator("td").all_inner_texts()]
            for i in range(cells.count())]


def filter_by(page: Any, served: Served, **fields: str) -> list[list[str]]:
    page.goto(f"{served.console_url}/sync-log")
    for name, value in fields.items():
        if name == "provider":
            page.select_option("select[name=provider]", label=value)
        else:
            page.fill(f"input[name={name}]", value)
    page.click(".filters button[type=submit]")
    page.wait_for_load_state()
    return rows(page)


def test_names_in_every_column_and_filters_by_name(served: Served, page: Any) -> None:
    ids = seed(served)
    sign_in(page, served)
    page.goto(f"{served.console_url}/sync-log")
    headers = page.locator("#sync-log thead th").all_inner_texts()
    assert headers == ["Who", "What", "By whom", "When", "Outcome"]
    everything = rows(page)
    carol = next(r for r in everything if r[0].startswith("carol") and r[1] == "created")
    assert carol[2] == "Okta production (IdP)"
    placed = next(r for r in everything if r[0].startswith("carol") and r[1] != "created")
    assert placed[1].startswith("mapping changed") and placed[2] == "org_mapping apply"
    assert "Carol Diaz" in carol[0] and ids["alice"] not in carol[0]
    link = page.locator("#sync-log tbody tr", has_text="Alice Smith").first.locator(
        "td:first-child a")
    assert link.inner_text() == "alice"
    assert link.get_attribute("href") == f"/console/users/{ids['alice']}"

    by_email = filter_by(page, served, who="Alice.Smith@corp.example")
    assert [(r[0].split()[0], r[1].split()[0]) for r in by_email] == [
        ("alice", "changed"), ("alice", "mapping"), ("alice", "created")]
    assert page.locator("input[name=who]").input_value() == "Alice.Smith@corp.example"
    assert [r[:2] for r in filter_by(page, served, who="ALICE")] == \
        [r[:2] for r in by_email]

    deleted = filter_by(page, served, who="bob")  # gone, still found by its name
    assert [(r[0].split()[0], r[1].split()[0]) for r in deleted] == [
        ("bob", "deleted"), ("bob", "mapping"), ("bob", "created")]

    groups = filter_by(page, served, group="engineering")
    assert len(groups) == 1 and groups[0][0].startswith("Engineering")
    assert groups[0][1] == "created" and "Sales" not in " ".join(groups[0])

    okta = filter_by(page, served, provider="Okta production")
    assert [r[0].split()[0] for r in okta] == ["carol", "Okta", "carol"]
    assert okta[1][0] == "Okta production Organization"  # its default organization
    assert [r[:2] for r in filter_by(page, served, actor="Okta production")] == \
        [r[:2] for r in okta if r[1] == "created"]
    assert filter_by(page, served, who="nobody@corp.example") == []
    assert page.locator(".empty").is_visible()
    assert page.errors == []


def test_the_diff_shows_what_changed_highlighted_and_the_rest_behind_show_all(
        served: Served, page: Any) -> None:
    ids = seed(served)
    sign_in(page, served)
    filter_by(page, served, who="alice", operation="patch")
    page.locator("#sync-log tbody tr td:nth-child(2) a").first.click()
    page.wait_for_url("**/sync-log/*")
    facts = page.locator("dl.facts").inner_text()
    assert "alice" in facts and "Alice Smith" in facts and ids["alice"] in facts

    shown = page.locator("#diff tbody tr")
    assert shown.count() == 1 and "title" in shown.first.inner_text()
    assert "Staff engineer" in shown.first.inner_text()
    every = page.locator(".diff-all table tbody tr")
    assert not every.first.is_visible()
    page.locator(".diff-all summary").click()
    assert every.count() > 3 and every.first.is_visible()
    assert page.locator(".diff-all tr", has_text="userName").first.is_visible()

    def background(row: Any) -> str:
        return row.locator("td").first.evaluate("td => getComputedStyle(td).backgroundColor")

    changed = page.locator(".diff-all tr.changed").first
    unchanged = page.locator(".diff-all tbody tr:not(.changed)").first
    assert "title" in changed.inner_text()
    assert background(changed) != background(unchanged)
    assert background(shown.first) == background(changed)
    assert page.errors == []
