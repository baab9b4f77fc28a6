"""Custom attributes in the console: the provider page lists the undeclared attributes its
IdP sent (how often, an example) and declares one with the type its values suggest, in one
click; the user page shows a user's custom attributes, declared or not; a declared string
attribute is offered to org_mapping's attribute method; the provider's settings refuse
undeclared attributes."""

from __future__ import annotations

from console_helpers import shot, sign_in
from playwright.sync_api import expect

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTRA = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"


def entra_user(name: str, **custom: object) -> dict:
    """Entra's create: the extension's URN is not listed in `schemas`."""
    return {"schemas": [CORE], "userName": name, "active": True, ENTRA: custom}


def test_undeclared_attributes_are_listed_declared_and_shown_on_the_user(served, page):
    scim = served.scim()
    for i, level in enumerate((3, 7)):
        r = scim.post("/Users", json=entra_user(f"u{i}@contoso.example",
                                                CustomAttribute=f"70198{i}", level=level))
        assert r.status_code == 201, r.text
    user_id = r.json()["id"]

    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{served.provider_id}/attributes")
    seen = page.locator("#undeclared-attributes")
    row = seen.locator("tr", has_text=f"{ENTRA}:level")
    expect(row.locator("td").nth(1)).to_have_text("2")
    expect(row.locator("td").nth(2)).to_have_text("7")
    expect(row.locator("select[name=type]")).to_have_value("integer")
    shot(page, "provider-custom-attributes")
    row.locator("button", has_text="Declare").click()
    expect(page.locator("body")).to_contain_text(f"Declared {ENTRA}:level (integer)")
    expect(page.locator("#declared-attributes")).to_contain_text(f"{ENTRA}:level")
    expect(page.locator("#undeclared-attributes")).not_to_contain_text(f"{ENTRA}:level")

    # Declared: typed from now on, and filterable.
    assert scim.post("/Users", json=entra_user("bad@contoso.example", level="x")) \
        .status_code == 400
    found = scim.get("/Users", params={"filter": f"{ENTRA}:level gt 5"}).json()
    assert [u["userName"] for u in found["Resources"]] == ["u1@contoso.example"]

    page.goto(f"{served.console_url}/users/{user_id}")
    table = page.locator("#custom-attributes")
    expect(table.locator("tr", has_text=f"{ENTRA}:level")).to_contain_text("integer")
    expect(table.locator("tr", has_text=f"{ENTRA}:CustomAttribute")).to_contain_text(
        "undeclared")
    expect(table.locator("tr", has_text=f"{ENTRA}:CustomAttribute")).to_contain_text("701981")

    # Declared as a string, it is offered to org_mapping's attribute method.
    page.goto(f"{served.console_url}/providers/{served.provider_id}/attributes")
    seen = page.locator("#undeclared-attributes tr", has_text=f"{ENTRA}:CustomAttribute")
    seen.locator("button", has_text="Declare").click()
    expect(page.locator("#declared-attributes")).to_contain_text(f"{ENTRA}:CustomAttribute")
    page.click("nav.tabs >> text=Mappings")
    panel = page.locator("#org-mapping")
    panel.locator("select[name=method]").select_option("attribute")
    panel.locator("select[name=attribute]").select_option(
        label="CustomAttribute (CustomExtensionName, a custom attribute)")
    panel.locator("button:has-text('Save organization mapping')").click()
    expect(page.locator(".flash")).to_have_text("Organization mapping saved")
    placed = scim.post("/Users", json=entra_user("d@contoso.example",
                                                 CustomAttribute="Retail", level=1))
    assert placed.status_code == 201, placed.text
    page.goto(f"{served.console_url}/users/{placed.json()['id']}")
    expect(page.locator("#application")).to_contain_text("Retail")

    page.goto(f"{served.console_url}/providers/{served.provider_id}/settings")
    page.select_option("select[name=undeclared_attributes]", "refuse")
    page.click("button:has-text('Save settings')")
    expect(page.locator("body")).to_contain_text("Settings saved")
    refused = scim.post("/Users", json=entra_user("c@contoso.example", other="x"))
    assert refused.status_code == 400 and f"{ENTRA}:other" in refused.json()["detail"]
    assert page.errors == []
