"""The console's webhooks page in Chromium against a real `identity-gateway serve`: a
receiver on an internal address is refused by the form, which says why and stores nothing."""

from __future__ import annotations

from console_helpers import sign_in
from playwright.sync_api import expect


def test_the_form_refuses_a_receiver_on_an_internal_address(served, page):
    sign_in(page, served)
    page.goto(f"{served.console_url}/webhooks")
    metadata = "http://169.254.169.254/latest/meta-data/"
    page.fill("input[name=url]", metadata)
    page.click("button:text('Register webhook')")
    expect(page.locator("[role=alert]")).to_contain_text(
        "'url' points at an address webhooks may not reach (link-local)")
    expect(page.locator("input[name=url]")).to_have_value(metadata)
    expect(page.locator("#webhooks")).to_have_count(0)
    assert served.admin().get("/webhooks").json()["items"] == []
    assert page.errors == []
