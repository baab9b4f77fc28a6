"""The console's home, the overview, in Chromium against a real `identity-gateway serve`:
a card per provider (waiting, connected, refused credential; deactivations due within the
hour, a tripped guard, undeclared attributes), what needs attention, the failing webhooks,
and the warning before Entra quarantines a provider whose requests fail."""

from __future__ import annotations

import time

import httpx
from console_helpers import shot, sign_in
from playwright.sync_api import expect

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
EXTENSION = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
QUARANTINE = "Entra may put this application in quarantine"


def scim_client(served, provider: dict) -> httpx.Client:
    """An IdP's client of a provider the admin API created (its printed bearer token)."""
    return httpx.Client(base_url=f"{served.url}/scim/v2/{provider['id']}", timeout=10,
                        headers={"Authorization":
                                 f"Bearer {provider['credentials']['Bearer token']}",
                                 "Content-Type": "application/scim+json"})


def new_provider(served, name: str, plugin: str | None = None) -> dict:
    body = {"name": name, **({"plugin": plugin} if plugin else {})}
    r = served.admin().post("/providers", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def fact(card, name: str) -> str:
    return card.locator(f"dt:text-is('{name}') + dd").inner_text()


def test_a_card_per_provider_and_what_needs_attention(served, page):
    scim, pid = served.scim(), served.provider_id
    ids = []
    for i in range(6):
        r = scim.post("/Users", json={"schemas": [CORE, EXTENSION], "active": True,
                                      "userName": f"user{i}@example.com",
                                      EXTENSION: {"badge": f"B{i}"}})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    # The guard trips at the fourth deactivation; three are due after the 15-minute delay.
    assert served.admin().patch(f"/providers/{pid}/deactivation-guard", json={
        "threshold": {"users": 3, "percent": 1}}).status_code == 200
    for uid in ids[:5]:
        assert scim.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "active", "value": False}]}).status_code == 200
    waiting = new_provider(served, "Okta staging", "okta")
    refused = new_provider(served, "Entra test", "entra")
    assert scim_client(served, refused).get(
        "/Users", headers={"Authorization": "Bearer not-the-secret"}).status_code == 401
    hook = served.admin().post("/webhooks", json={"url": "http://127.0.0.1:9/hooks"}).json()
    scim.post("/Users", json={"schemas": [CORE], "userName": "late@example.com"})
    deadline = time.monotonic() + 30
    while served.admin().get(f"/webhooks/{hook['id']}").json()["failing"] is None:
        assert time.monotonic() < deadline, "the delivery was never attempted"
        time.sleep(0.1)

    sign_in(page, served)
    page.goto(served.console_url + "/")
    expect(page.locator("main h1")).to_have_text("Overview")
    expect(page.locator("nav.side a[aria-current=page]")).to_have_text("Overview")

    card = page.locator(f"#provider-{pid}")
    expect(card).to_have_attribute("data-connection", "connected")
    expect(card.locator(".connection")).to_contain_text("Connected: Created a user")
    assert fact(card, "Deactivations due within the hour") == "3"
    assert fact(card, "Deactivation guard") == "tripped holding 2"
    assert fact(card, "Undeclared attributes").startswith("1 seen")
    assert "POST /Users" in fact(card, "Last request")
    assert fact(card, "Errors in the last hour") == "0"

    okta = page.locator(f"#provider-{waiting['id']}")
    expect(okta).to_have_attribute("data-connection", "waiting")
    expect(okta.locator(".connection")).to_have_text("Waiting for the first request from Okta")
    assert fact(okta, "Last request") == "none yet"

    entra = page.locator(f"#provider-{refused['id']}")
    expect(entra).to_have_attribute("data-connection", "refused")
    expect(entra.locator(".connection")).to_contain_text("Credential refused: 1 request")
    assert fact(entra, "Refused credentials in the last hour") == "1"
    assert fact(entra, "Errors in the last hour") == "1"
    # Entra quarantines an application whose credential is refused: said at once.
    expect(entra.locator(".failure-warning")).to_contain_text("Its credential is refused")

    needs = page.locator("#attention li")
    for text in ("default: Deactivation guard tripped: 2 deactivations held",
                 "default: 3 users to be deactivated within the hour",
                 "default: 1 undeclared attribute sent by its IdP",
                 f"Entra test: {QUARANTINE}", "Entra test: Its IdP's credential is refused",
                 "Webhook http://127.0.0.1:9/hooks is failing"):
        expect(needs.filter(has_text=text)).to_have_count(1)
    expect(needs.filter(has_text="Okta staging")).to_have_count(0)  # waiting is no alarm
    expect(page.locator("#webhook-health")).to_contain_text("failing")
    shot(page, "overview")

    # Each item opens what it is about.
    needs.filter(has_text="Deactivation guard tripped").locator("a").click()
    expect(page.locator("#guard-state")).to_have_text("tripped")
    page.go_back()
    needs.filter(has_text="to be deactivated").locator("a").click()
    expect(page.locator("#users tbody tr")).to_have_count(3)
    page.go_back()
    needs.filter(has_text="undeclared attribute").locator("a").click()
    expect(page.locator("#undeclared-attributes")).to_contain_text(f"{EXTENSION}:badge")
    assert page.errors == []


def test_the_overview_warns_before_entra_quarantines_a_failing_provider(served, page):
    entra = new_provider(served, "Entra production", "entra")
    idps = {entra["id"]: scim_client(served, entra), served.provider_id: served.scim()}
    bad_token = {"Authorization": "Bearer not-the-secret"}
    for client in idps.values():
        for _ in range(20):
            assert client.get("/Users", params={"count": 1}).status_code == 200
        for _ in range(40):  # a body without userName: 400
            assert client.post("/Users", json={"schemas": [CORE]}).status_code == 400
        for _ in range(9):
            assert client.get("/Users", headers=bad_token).status_code == 401

    # 49 of 69 requests failed: past Entra's share, one short of the failures it waits for.
    sign_in(page, served)
    page.goto(served.console_url + "/")
    card = page.locator(f"#provider-{entra['id']}")
    expect(card).to_have_attribute("data-connection", "connected")
    assert fact(card, "Errors in the last hour") == "49"
    expect(page.locator(".failure-warning")).to_have_count(0)

    for client in idps.values():
        assert client.get("/Users", headers=bad_token).status_code == 401
    page.reload()
    warning = card.locator(".failure-warning")
    expect(warning).to_contain_text(f"{QUARANTINE}: 71% of the requests from Entra "
                                    "production failed in the last 24 hours (50 of 70).")
    expect(warning).to_contain_text("more than 40% of them")
    expect(warning).to_contain_text("restart provisioning in Entra")
    expect(page.locator(".failure-warning")).to_have_count(1)  # not the generic provider's
    expect(page.locator("#attention li").first).to_have_text(
        f"Entra production: {QUARANTINE}")
    shot(page, "overview-quarantine")

    # The provider's own overview says it too.
    card.locator("h2 a").click()
    expect(page.locator("#provider-attention .failure-warning")).to_contain_text("(50 of 70)")
    assert page.errors == []
