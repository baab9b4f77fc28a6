"""The org_mapping and legal_hold plugins' console pages in Chromium against a real
`identity-gateway serve`: everything their admin API does, done from the console —
watchlists and their group mapping, editing an organization, the attribute method, the list
of legal holds — and an auditor who sees those pages and changes nothing."""

from __future__ import annotations

import re

from console_helpers import shot, sign_in
from playwright.sync_api import expect

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OURS = "urn:ietf:params:scim:schemas:extension:identity-gateway:2.0:User"


def new_user(served, name: str, **extra) -> str:
    r = served.scim().post("/Users", json={"schemas": [CORE], "userName": name,
                                          "active": True, **extra})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def membership(served, gid: str, op: str, uid: str) -> None:
    ops = [{"op": "add", "path": "members", "value": [{"value": uid}]}] if op == "add" \
        else [{"op": "remove", "path": f'members[value eq "{uid}"]'}]
    r = served.scim().patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": ops})
    assert r.status_code in (200, 204), r.text


def actors(served, **filters) -> list[str]:
    found = served.admin().get("/sync-log", params=filters).json()
    return [e["actor"] for e in found["items"]]


def application(page) -> str:
    """What the user's page says about the user's organization, roles and watchlists."""
    return page.locator("#application").inner_text()


def test_watchlists_from_the_console(served, page):
    ada = new_user(served, "ada@example.com")
    grace = new_user(served, "grace@example.com")
    r = served.scim().post("/Groups", json={"schemas": [GROUP], "displayName": "Domain Admins",
                                           "members": [{"value": ada}]})
    assert r.status_code == 201, r.text
    admins_group = r.json()["id"]
    sign_in(page, served)

    # The catalogue: add a watchlist on "Organizations and roles".
    page.click("nav >> text=Organizations and roles")
    assert page.title() == "Organizations and roles · identity-gateway"
    form = page.locator("#watchlist-new")
    form.locator("input[name=name]").fill("Privileged")
    form.locator("input[name=description]").fill("Admins of production systems")
    form.locator("button:has-text('Add watchlist')").click()
    expect(page.locator(".flash")).to_have_text("Watchlist 'Privileged' added")
    expect(page.locator("#watchlists")).to_contain_text("Admins of production systems")
    shot(page, "organizations")
    assert actors(served, user="Privileged") == ["console:admin"]

    # The provider's page: map the SCIM group to it; the picker then has nothing left.
    page.goto(f"{served.console_url}/providers/{served.provider_id}/mappings")
    expect(page.locator("#watchlist-status")).to_have_text(
        "1 of 1 SCIM groups are not mapped to watchlists")
    mapping = page.locator("#watchlist-mapping")
    mapping.locator("select[name=group]").select_option(label="Domain Admins")
    mapping.locator("input[name=watchlists][value=Privileged]").check()
    mapping.locator("button:has-text('Map group to watchlists')").click()
    expect(page.locator(".flash")).to_have_text("Watchlist mapping saved.")
    expect(page.locator("#watchlist-mappings")).to_contain_text("Domain Admins")
    expect(page.locator("#watchlist-mappings")).to_contain_text("Privileged")
    expect(page.locator("#watchlist-status")).to_have_text(
        "All SCIM groups are mapped to watchlists")
    expect(page.locator("#watchlist-mapping")).to_have_count(0)
    assert actors(served, provider=served.provider_id, operation="update") == [
        "console:admin"]

    # Ada was in the group before it was mapped: applying puts her on the watchlist.
    page.click("button:has-text('Apply org and role settings')")
    expect(page.locator("#apply-status")).to_have_text(re.compile(
        r"^Org and role settings applied to 2 users: .*, 1 changed watchlists$"))
    page.goto(f"{served.console_url}/users/{ada}")
    expect(page.locator("#application")).to_contain_text("Privileged")

    # The IdP adds Grace to the group and takes Ada out: each page says so at once.
    membership(served, admins_group, "add", grace)
    membership(served, admins_group, "remove", ada)
    page.reload()
    assert "Privileged" not in application(page)
    page.goto(f"{served.console_url}/users/{grace}")
    expect(page.locator("#application")).to_contain_text("Privileged")

    # The user list's watchlist filter (the catalogue's "users" link).
    page.goto(f"{served.console_url}/organizations")
    page.locator("#watchlists a:has-text('users')").click()
    expect(page.locator("#users tbody tr")).to_have_count(1)
    expect(page.locator("#users tbody")).to_contain_text("grace@example.com")

    # Removing the mapping: the group is offered again.
    page.goto(f"{served.console_url}/providers/{served.provider_id}/mappings")
    page.locator("#watchlist-mappings button:has-text('Remove')").click()
    expect(page.locator(".flash")).to_have_text("Watchlist mapping saved.")
    expect(page.locator("#watchlist-mappings")).to_have_count(0)
    expect(page.locator("#watchlist-mapping select[name=group] option")).to_have_text(
        ["Domain Admins"])
    shown = served.admin().get(f"/providers/{served.provider_id}/watchlist-mapping")
    assert shown.json()["mappings"] == []
    assert page.errors == []


def test_an_organization_is_edited_and_the_attribute_method_places_users(served, page):
    sign_in(page, served)
    page.click("nav >> text=Organizations and roles")
    page.fill("form[action='/console/organizations/new'] input[name=name]", "Contoso")
    page.click("button:has-text('Create organization')")
    expect(page.locator(".flash")).to_contain_text("Organization 'Contoso' created")

    # Everyone of the provider in Contoso.
    provider_page = f"{served.console_url}/providers/{served.provider_id}/mappings"
    page.goto(provider_page)
    panel = page.locator("#org-mapping")
    panel.locator("select[name=method]").select_option("single")
    panel.locator("select[name=organization]").select_option(label="Contoso")
    panel.locator("button:has-text('Save organization mapping')").click()
    expect(page.locator(".flash")).to_have_text("Organization mapping saved")

    # Rename it and give it a default role, on its own page.
    page.click("nav >> text=Organizations and roles")
    page.locator("#organizations a:has-text('Contoso')").click()
    expect(page.locator("main h1")).to_have_text("Contoso")
    edit = page.locator("#organization-edit")
    edit.locator("input[name=name]").fill("Contoso Ltd")
    edit.locator("input[name=default_roles][value=member]").check()
    edit.locator("button:has-text('Save organization')").click()
    expect(page.locator(".flash")).to_have_text("Organization 'Contoso Ltd' saved")
    expect(page.locator("main h1")).to_have_text("Contoso Ltd")
    oid = page.url.rsplit("/", 1)[1]
    assert actors(served, user=oid, operation="update") == ["console:admin"]

    # The provider's mapping names it by its new name; a new user lands there with the role.
    page.goto(provider_page)
    expect(page.locator("#org-mapping select[name=organization] option:checked")).to_have_text(
        "Contoso Ltd")
    ada = new_user(served, "ada@example.com")
    page.goto(f"{served.console_url}/users/{ada}")
    expect(page.locator("#application")).to_contain_text("Contoso Ltd")
    expect(page.locator("#application")).to_contain_text("member")

    # The attribute method with the gateway's own orgName: organizations come with users.
    page.goto(provider_page)
    panel = page.locator("#org-mapping")
    panel.locator("select[name=method]").select_option("attribute")
    panel.locator("select[name=attribute]").select_option(
        label="orgName (the gateway's own User extension)")
    panel.locator("button:has-text('Save organization mapping')").click()
    expect(page.locator(".flash")).to_have_text("Organization mapping saved")
    expect(page.locator("#org-mapping select[name=method]")).to_have_value("attribute")
    grace = new_user(served, "grace@example.com", schemas=[CORE, OURS],
                     **{OURS: {"orgName": "Fabrikam"}})
    page.goto(f"{served.console_url}/users/{grace}")
    expect(page.locator("#application")).to_contain_text("Fabrikam")
    page.goto(f"{served.console_url}/organizations")
    expect(page.locator("#organizations")).to_contain_text("Fabrikam")

    # A custom path, in Okta's notation: stored as its SCIM path, used by the next apply.
    page.goto(provider_page)
    other = page.locator("#org-mapping input[name=attribute_other]")
    other.fill("name.nosuch")
    page.click("#org-mapping button:has-text('Save organization mapping')")
    expect(page.locator(".flash")).to_contain_text("Organization mapping not saved")
    other.fill("addresses.^[primary==true].region")
    page.click("#org-mapping button:has-text('Save organization mapping')")
    expect(page.locator(".flash")).to_have_text("Organization mapping saved")
    expect(other).to_have_value("addresses[primary eq true].region")
    linus = new_user(served, "linus@example.com", addresses=[
        {"type": "work", "primary": True, "region": "Nordics"}])
    page.click("button:has-text('Apply org and role settings')")
    expect(page.locator("#apply-status")).to_contain_text("applied to 3 users")
    page.goto(f"{served.console_url}/users/{linus}")
    expect(page.locator("#application")).to_contain_text("Nordics")
    assert page.errors == []


def test_legal_holds_are_listed_and_released_from_the_list(served, page):
    uid = new_user(served, "held@example.com")
    placed = served.admin().post("/legal-holds", json={
        "user": uid, "matter": "Case 2026-014", "placed_by": "legal@example.com"})
    assert placed.status_code == 201, placed.text
    sign_in(page, served)
    page.click("nav >> text=Legal holds")
    row = page.locator("#holds tbody tr")
    expect(row).to_have_count(1)
    for text in ("held@example.com", "Case 2026-014", "legal@example.com"):
        expect(row).to_contain_text(text)
    expect(row.locator("td:nth-child(4)")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d .*UTC \((just now|\d+ \w+ ago)\)$"))
    assert row.locator("a").get_attribute("href") == f"/console/users/{uid}"
    shot(page, "legal-holds")

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Release')").click()
    expect(page.locator(".flash")).to_have_text("Legal hold released; the user is active")
    assert page.url.endswith("/console/legal-holds")
    expect(page.locator("#holds")).to_have_count(0)
    page.click("text=Include released")
    expect(page.locator("#holds tbody tr")).to_contain_text("by admin")
    assert actors(served, user=uid, operation="legal_hold_release") == ["console:admin"]

    # The user's page links to that user's holds, released ones included.
    page.goto(f"{served.console_url}/users/{uid}")
    page.click("text=Every hold of this user")
    expect(page.locator("#holds tbody tr")).to_have_count(1)
    assert page.errors == []


def test_an_auditor_sees_the_plugins_pages_and_changes_nothing(served, page):
    api = served.admin()
    uid = new_user(served, "held@example.com")
    group = served.scim().post("/Groups", json={"schemas": [GROUP], "displayName": "Leavers",
                                               "members": [{"value": uid}]}).json()["id"]
    pid = served.provider_id
    assert api.post("/watchlists", json={"name": "Departing"}).status_code == 201
    assert api.put(f"/providers/{pid}/watchlist-mapping", json={
        "mappings": [{"group": group, "watchlists": ["Departing"]}]}).status_code == 200
    org = api.post("/organizations", json={"name": "Contoso"}).json()["id"]
    assert api.post("/legal-holds", json={"user": uid, "matter": "M-1"}).status_code == 201
    added = served.cli("admin", "add", "audrey", "--role", "auditor", "--password-stdin",
                       stdin="a long auditor password\n")
    assert added.returncode == 0, added.stderr
    sign_in(page, served, "audrey", "a long auditor password")

    for path in ("/organizations", f"/organizations/{org}", "/legal-holds"):
        page.goto(served.console_url + path)
        expect(page.locator("main h1")).to_have_count(1)
        assert page.locator("main form[method=post]").count() == 0, path
    page.goto(f"{served.console_url}/organizations")
    expect(page.locator("#watchlists")).to_contain_text("Departing")
    page.goto(f"{served.console_url}/providers/{pid}/mappings")
    expect(page.locator("#watchlist-mappings")).to_contain_text("Leavers")
    expect(page.locator("#watchlist-mappings button")).to_have_count(0)
    expect(page.locator("#watchlist-mapping, #role-mapping")).to_have_count(0)
    expect(page.locator("#org-mapping button")).to_have_count(0)
    expect(page.locator("#apply button")).to_have_count(0)
    status = page.request.get(f"{served.console_url}/org-mapping/{pid}/apply-status")
    assert status.status == 200 and status.json()["done"] is True

    csrf = page.locator("header input[name=csrf_token]").get_attribute("value")
    for path, form in [("/watchlists/new", {"name": "Sneaky"}),
                       ("/roles/new", {"name": "sneaky"}),
                       (f"/organizations/{org}/edit", {"name": "Renamed"}),
                       (f"/org-mapping/{pid}/watchlists", {"remove": group}),
                       (f"/org-mapping/{pid}/apply", {}),
                       (f"/legal-holds/{uid}/release", {"from": "list"})]:
        r = page.request.post(served.console_url + path, form={"csrf_token": csrf, **form},
                              max_redirects=0)
        assert r.status == 403, (path, r.status)
    assert [w["name"] for w in api.get("/watchlists").json()["items"]] == ["Departing"]
    assert api.get(f"/organizations/{org}").json()["name"] == "Contoso"
    assert api.get(f"/providers/{pid}/watchlist-mapping").json()["mappings"] != []
    assert api.get("/legal-holds", params={"user": uid}).json()["items"] != []
