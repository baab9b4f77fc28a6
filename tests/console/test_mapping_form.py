"""The organization mapping form on a provider's Mappings section, in Chromium against a
real `identity-gateway serve`: only the chosen method's fields are shown (with JavaScript
as the choice changes, without it after "Show its fields"), the group pickers offer only
groups not mapped yet, and SCIM groups with no group mapped says what it will do before it
is saved."""

from __future__ import annotations

from typing import Any

from console_helpers import sign_in
from playwright.sync_api import expect

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
FIELDS = {"single": "select[name=organization]", "attribute": "select[name=attribute]",
          "scim_groups": "#org-groups"}


def groups(served, *names: str) -> dict[str, str]:
    found = {}
    for name in names:
        r = served.scim().post("/Groups", json={"schemas": [GROUP], "displayName": name})
        assert r.status_code == 201, r.text
        found[name] = r.json()["id"]
    return found


def shown_fields(page) -> set[str]:
    form = page.locator("#org-mapping")
    return {method for method, selector in FIELDS.items()
            if form.locator(selector).is_visible()}


def org_mapping(served) -> dict:
    return served.admin().get(f"/providers/{served.provider_id}/org-mapping").json()


def test_only_the_chosen_methods_fields_and_only_unmapped_groups(served, page):
    ids = groups(served, "Sales", "Support", "Engineering")
    assert served.admin().post("/organizations", json={"name": "Sales EMEA"}).status_code == 201
    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{served.provider_id}/mappings")
    method = page.locator("#org-mapping select[name=method]")
    expect(method).to_have_value("single")
    assert shown_fields(page) == {"single"}
    expect(page.locator("#org-mapping button:has-text('Show its fields')")).to_be_hidden()
    for choice in ("attribute", "scim_groups", "single", "scim_groups"):
        method.select_option(choice)
        assert shown_fields(page) == {choice}

    # Map Sales to an organization: the picker then offers only the two others.
    picker = page.locator("#org-mapping select[name=group_new] option")
    expect(picker).to_have_text(["Add a group…", *sorted(ids, key=ids.get)])
    page.select_option("#org-mapping select[name=group_new]", label="Sales")
    page.select_option("#org-mapping select[name=organization_new]", label="Sales EMEA")
    page.fill("#org-mapping input[name=priority_new]", "10")
    page.click("#org-mapping button:has-text('Save organization mapping')")
    expect(page.locator(".flash")).to_have_text("Organization mapping saved")
    assert org_mapping(served)["method"] == "scim_groups"
    expect(method).to_have_value("scim_groups")
    assert shown_fields(page) == {"scim_groups"}
    expect(page.locator("#org-groups tbody tr").first).to_contain_text("Sales")
    expect(picker).to_have_text(["Add a group…", *sorted(["Support", "Engineering"],
                                                          key=ids.get)])
    expect(page.locator("#org-groups-status")).to_have_text(
        "2 of 3 SCIM groups are not mapped to organizations")

    # The role picker too: a mapped group leaves it.
    role_picker = page.locator("#role-mapping select[name=group] option")
    expect(role_picker).to_have_count(3)
    role_picker_select = page.locator("#role-mapping select[name=group]")
    role_picker_select.select_option(label="Support")
    page.check("#role-mapping input[name=roles][value=member]")
    page.click("#role-mapping button:has-text('Map group')")
    expect(page.locator(".flash")).to_contain_text("Role mapping saved.")
    expect(role_picker).to_have_count(2)
    assert "Support" not in role_picker.all_inner_texts()
    assert page.errors == []


def test_without_javascript_the_method_is_chosen_first(browser: Any, served):
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        page.errors = []
        sign_in(page, served)
        page.goto(f"{served.console_url}/providers/{served.provider_id}/mappings")
        assert shown_fields(page) == {"single"}
        show = page.locator("#org-mapping button:has-text('Show its fields')")
        expect(show).to_be_visible()
        page.select_option("#org-mapping select[name=method]", "attribute")
        assert shown_fields(page) == {"single"}  # no script: nothing changes until asked
        show.click()
        assert "method=attribute" in page.url
        expect(page.locator("#org-mapping select[name=method]")).to_have_value("attribute")
        assert shown_fields(page) == {"attribute"}
        expect(page.locator("#org-method-unsaved")).to_contain_text("saving switches it")
        assert org_mapping(served)["method"] != "attribute"  # choosing saved nothing

        page.select_option("#org-mapping select[name=attribute]",
                           label="enterprise department")
        page.click("#org-mapping button:has-text('Save organization mapping')")
        expect(page.locator(".flash")).to_have_text("Organization mapping saved")
        saved = org_mapping(served)
        assert (saved["method"], saved["attribute"]) == (
            "attribute", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
        assert shown_fields(page) == {"attribute"}
    finally:
        context.close()


def test_scim_groups_with_none_mapped_says_what_it_does_before_saving(served, page):
    groups(served, "Sales")
    before = org_mapping(served)
    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{served.provider_id}/mappings")
    page.select_option("#org-mapping select[name=method]", "scim_groups")
    page.click("#org-mapping button:has-text('Save organization mapping')")

    said = page.locator("#no-groups-consequence")
    expect(said).to_contain_text("No SCIM group is mapped: every user of default will be "
                                 "placed in the default organization, default,")
    assert org_mapping(served) == before  # nothing saved yet

    # Back: nothing saved, the SCIM-group fields shown again.
    page.click("text=Back to the mapping")
    assert shown_fields(page) == {"scim_groups"}
    assert org_mapping(served) == before

    # Confirmed: saved, and the sync log has it by the account.
    page.click("#org-mapping button:has-text('Save organization mapping')")
    page.click("button:has-text('Save with no group mapped')")
    expect(page.locator(".flash")).to_have_text("Organization mapping saved")
    saved = org_mapping(served)
    assert (saved["method"], saved["groups"]) == ("scim_groups", [])
    entries = served.admin().get("/sync-log", params={"operation": "update"}).json()["items"]
    assert [e["actor"] for e in entries if e["resource_type"] == "Provider"] == [
        "console:admin"]
    assert page.errors == []
