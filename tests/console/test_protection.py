"""The console's protection and diagnostics pages in Chromium against a real
`identity-gateway serve`: the mass-deactivation guard tripped by a burst of SCIM
deactivations, then released and discarded from the provider page; blocking during the
deactivation delay; the refused requests; the plugins; the JSONL export; a failing webhook;
and an auditor refused every change to the guard."""

from __future__ import annotations

import json
import re
import time

import httpx
from console_helpers import shot, sign_in
from playwright.sync_api import expect

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def make_users(served, count: int, prefix: str = "user") -> list[str]:
    client = served.scim()
    ids = []
    for i in range(count):
        r = client.post("/Users", json={"schemas": [CORE], "userName": f"{prefix}{i}@example.com",
                                        "active": True})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def deactivate(served, ids: list[str]) -> None:
    """What the IdP does on a scoping mistake: PATCH active=false, one user after another.
    Every request gets its usual answer, held or not."""
    client = served.scim()
    for uid in ids:
        r = client.patch(f"/Users/{uid}", json={
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active",
                                                "value": False}]})
        assert r.status_code == 200 and r.json()["active"] is False, r.text


def accept_confirm(page, expected: str) -> None:
    def answer(dialog) -> None:
        assert expected in dialog.message, dialog.message
        dialog.accept()

    page.once("dialog", answer)


def test_the_guard_trips_and_the_admin_releases_then_discards(served, page):
    pid = served.provider_id
    ids = make_users(served, 12)
    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{pid}/guard")
    card = page.locator("#guard")
    expect(card.locator("#guard-state")).to_have_text("armed")

    # A low threshold, set from the console: more than 3 users and 1 % within an hour.
    card.locator("input[name=users]").fill("3")
    card.locator("input[name=percent]").fill("1")
    card.locator("input[name=window]").fill("60m")
    card.locator("button:has-text('Save guard settings')").click()
    expect(page.locator(".flash")).to_have_text(
        "Deactivation guard saved: armed, more than 3 users and 1% within 60m")
    changed = served.admin().get("/sync-log?operation=deactivation_guard_update").json()
    assert [e["actor"] for e in changed["items"]] == ["console:admin"]

    # The IdP deactivates six users: three pass, the fourth trips the guard, the rest wait.
    deactivate(served, ids[:6])
    page.goto(f"{served.console_url}/providers")
    banner = page.locator(f"[data-guard-tripped='{pid}']")
    expect(banner).to_contain_text("Deactivation guard tripped")
    expect(banner).to_contain_text("holds 3 deactivations")
    banner.locator("a").click()
    expect(card.locator("#guard-state")).to_have_text("tripped")
    expect(card.locator("#guard-held")).to_have_text("3")
    expect(page.locator(".alert")).to_contain_text("holds 3 deactivations")
    held = card.locator("#guard-held-users tbody tr")
    expect(held).to_have_count(3)
    assert held.locator("a").all_inner_texts() == [f"user{i}@example.com" for i in (3, 4, 5)]
    shot(page, "provider-guard")

    # The held users, in the users list and on a user's page.
    page.goto(f"{served.console_url}/users?provider={pid}&state=deactivation_held")
    expect(page.locator("#users tbody tr")).to_have_count(3)
    page.locator("#users tbody tr a", has_text="user4@example.com").click()
    expect(page.locator("#block")).to_have_text(
        "Blocked — deactivation held by the mass-deactivation guard")
    page.click(".facts a:has-text('mass-deactivation guard')")

    # Release: each held deactivation proceeds with the provider's delay.
    accept_confirm(page, "Release the 3 held deactivations?")
    page.locator("#guard button:has-text('Release held deactivations')").click()
    expect(page.locator(".flash")).to_have_text(re.compile(
        r"^Released 3 held deactivations: 3 users now follow the provider's deactivation "
        r"delay; the guard is armed again$"))
    expect(card.locator("#guard-state")).to_have_text("armed")
    expect(page.locator(".alert")).to_have_count(0)
    states = [served.admin().get(f"/users/{uid}").json()["state"] for uid in ids[3:6]]
    assert states == ["pending_deactivation"] * 3

    # A second burst trips it again; this time the admin discards what it holds.
    deactivate(served, ids[6:12])
    page.reload()
    expect(card.locator("#guard-state")).to_have_text("tripped")
    expect(card.locator("#guard-held")).to_have_text("3")
    accept_confirm(page, "Discard the 3 held deactivations?")
    card.locator("button:has-text('Discard held deactivations')").click()
    expect(page.locator(".flash")).to_have_text(
        "Discarded 3 held deactivations: 3 users active and unblocked again; the guard is "
        "armed again")
    expect(card.locator("#guard-state")).to_have_text("armed")
    for uid in ids[9:12]:
        user = served.admin().get(f"/users/{uid}").json()
        assert (user["state"], user["blocked"], user["provider_state"]) == \
            ("active", False, "active")
    ended = served.admin().get("/sync-log",
                              params={"operation": "deactivation_guard_discard"}).json()
    assert {e["actor"] for e in ended["items"]} == {"console:admin"}
    assert page.errors == []


def test_blocking_during_the_delay_is_a_provider_setting(served, page):
    pid = served.provider_id
    kept, blocked = make_users(served, 2)
    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{pid}/settings")
    box = page.locator("input[type=checkbox][name=block_during_delay]")
    expect(box).to_be_checked()

    # Off: a user the provider deactivates keeps working during the delay.
    box.uncheck()
    page.click("button:has-text('Save settings')")
    expect(page.locator(".flash")).to_have_text("Settings saved")
    expect(box).not_to_be_checked()
    assert served.admin().get(f"/providers/{pid}").json()["block_during_delay"] is False
    deactivate(served, [kept])
    page.goto(f"{served.console_url}/users/{kept}")
    expect(page.locator("#block")).to_have_text("Not blocked")

    # On again: the next one is blocked at once, and its page says until when.
    page.goto(f"{served.console_url}/providers/{pid}/settings")
    box.check()
    page.click("button:has-text('Save settings')")
    expect(box).to_be_checked()
    assert served.admin().get(f"/providers/{pid}").json()["block_during_delay"] is True
    deactivate(served, [blocked])
    page.goto(f"{served.console_url}/users/{blocked}")
    expect(page.locator("#block")).to_have_text("Blocked — deactivation pending")
    due = served.admin().get(f"/users/{blocked}").json()["deactivate_at"]
    shown = f"{due[:10]} {due[11:19]} UTC"
    expect(page.locator(".facts")).to_contain_text(
        f"pending_deactivation — deactivation takes effect {shown}")
    # What plugins add to the admin view is shown as it comes (org_mapping: watchlists).
    expect(page.locator("#application")).to_contain_text("watchlists")
    page.goto(f"{served.console_url}/users?blocked=true")
    expect(page.locator("#users tbody tr")).to_have_count(1)
    expect(page.locator("#users tbody")).to_contain_text("user1@example.com")
    assert page.errors == []


def test_refused_requests_plugins_exports_and_a_failing_webhook(served, page):
    pid = served.provider_id
    make_users(served, 2)
    wrong = httpx.get(f"{served.scim_base}/Users",
                      headers={"Authorization": "Bearer not-the-secret"}, timeout=10)
    assert wrong.status_code == 401
    sign_in(page, served)

    # Refused requests: from the provider page, filtered to it.
    page.goto(f"{served.console_url}/providers/{pid}")
    page.click(".heading >> text=Refused requests")
    expect(page.locator("h1")).to_have_text("Refused requests")
    assert f"provider={pid}" in page.url
    expect(page.locator("select[name=provider] option:checked")).to_have_text("default")
    rows = page.locator("#failures tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("unknown secret (mistyped, rotated or revoked)")
    assert rows.locator("td.num").inner_text() == "1"
    expect(page.locator("#failure-totals")).to_contain_text("unknown_credential")
    shot(page, "refused-requests")
    page.goto(f"{served.console_url}/auth-failures")  # all providers: the provider's name
    expect(page.locator("#failures tbody tr", has_text="default")).to_have_count(1)

    # Settings: the plugins with their versions and hooks, as GET /admin/v1/plugins.
    page.click("nav >> text=Settings")
    plugins = served.admin().get("/plugins").json()["items"]
    table = page.locator("section", has=page.locator("h2", has_text="Plugins"))
    for plugin in plugins:
        if plugin["name"] not in ("entra", "okta", "legal_hold", "org_mapping"):
            continue
        row = table.locator("tr", has=page.locator("td", has_text=re.compile(
            f"^{plugin['name']}$")))
        expect(row).to_contain_text(plugin["version"])
        expect(row).to_contain_text(", ".join(plugin["hooks"]))
    assert {"entra", "okta", "legal_hold", "org_mapping"} <= {p["name"] for p in plugins}

    # The sync log's JSON lines export of the current filter.
    page.goto(f"{served.console_url}/sync-log?provider={pid}&operation=create")
    with page.expect_download() as download:
        page.click("text=Export JSONL")
    lines = open(download.value.path(), encoding="utf-8").read().splitlines()
    entries = [json.loads(line) for line in lines]
    assert {(e["operation"], e["provider"]) for e in entries} == {("create", pid)}
    assert [e["resource_type"] for e in entries].count("User") == 2

    # A webhook whose receiver refuses: its page says what failed and when it is tried again.
    hook = served.admin().post("/webhooks", json={"url": "http://127.0.0.1:9/hooks"}).json()
    make_users(served, 1, "hooked")
    deadline = time.monotonic() + 20
    while served.admin().get(f"/webhooks/{hook['id']}").json()["failing"] is None:
        assert time.monotonic() < deadline, "the delivery was never attempted"
        time.sleep(0.1)
    failing = served.admin().get(f"/webhooks/{hook['id']}").json()["failing"]
    page.goto(f"{served.console_url}/webhooks/{hook['id']}")
    section = page.locator("#failing")
    expect(section.locator("dt:text-is('Event') + dd")).to_have_text(str(failing["seq"]))
    expect(section).to_contain_text("Next attempt")
    assert failing["last_error"] and failing["last_error"][:40] in section.inner_text()
    page.click("nav >> text=Webhooks")
    expect(page.locator("#webhooks tbody tr")).to_contain_text("attempt(s)")
    assert page.errors == []


def test_an_auditor_sees_the_guard_and_cannot_change_it(served, page):
    pid = served.provider_id
    added = served.cli("admin", "add", "audrey", "--role", "auditor", "--password-stdin",
                       stdin="a long auditor password\n")
    assert added.returncode == 0, added.stderr
    sign_in(page, served, "audrey", "a long auditor password")
    page.goto(f"{served.console_url}/providers/{pid}/guard")
    card = page.locator("#guard")
    expect(card.locator("#guard-state")).to_have_text("armed")
    expect(card.locator("input[name=users]")).to_be_disabled()
    assert card.locator("button").count() == 0
    csrf = page.locator("header input[name=csrf_token]").get_attribute("value")
    for path, form in [(f"/providers/{pid}/guard",
                        {"enabled": "on", "users": "0", "percent": "0", "window": "1m"}),
                       (f"/providers/{pid}/guard/release", {}),
                       (f"/providers/{pid}/guard/discard", {}),
                       (f"/providers/{pid}/settings", {"block_during_delay": "off"})]:
        r = page.request.post(served.console_url + path, form={"csrf_token": csrf, **form},
                              max_redirects=0)
        assert r.status == 403, (path, r.status)
    guard = served.admin().get(f"/providers/{pid}/deactivation-guard").json()
    assert (guard["state"], guard["threshold"]) == ("armed", {"users": 25, "percent": 10})
    assert served.admin().get(f"/providers/{pid}").json()["block_during_delay"] is True
    page.goto(f"{served.console_url}/auth-failures")
    expect(page.locator("h1")).to_have_text("Refused requests")
