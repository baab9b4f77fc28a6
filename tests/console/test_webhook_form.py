"""The console's webhooks page in Chromium against a real `identity-gateway serve`: a
receiver on an internal address is refused by the form, which says why and stores nothing;
after a fresh start with no key in the environment, a webhook registers."""

from __future__ import annotations

from console_helpers import CONFIG, Served, sign_in
from playwright.sync_api import expect
from serving import free_port, read_lines, start, stop, wait_ready

from gateway.settings import KEYS_VARIABLE


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


def test_after_a_fresh_start_a_webhook_registers_and_its_secret_is_shown_once(tmp_path, page):
    """A first `make run`: no key in the environment (tests/conftest.py sets one for every
    other test), a home folder of its own. The first start made a key file, so the
    webhooks page registers a webhook and shows its generated secret on that page only."""
    home = tmp_path / "home"
    config = tmp_path / "identity-gateway.toml"
    config.write_text(CONFIG)
    database, port = tmp_path / "data" / "gw.db", free_port()
    proc = start(database, port, config,
                 env={KEYS_VARIABLE: "", "XDG_CONFIG_HOME": "", "HOME": str(home)})
    try:
        values = dict(line.split(": ", 1) for line in read_lines(proc, 6))
        assert "Webhook secret key file" in values, values
        wait_ready(values["SCIM base URL"])
        served = Served(url=f"http://127.0.0.1:{port}", scim_base=values["SCIM base URL"],
                        bearer=values["Bearer token"], admin_token=values["Admin token"],
                        console_url=values["Console URL"], password=values["Console password"],
                        database=database, config=config, proc=proc)
        sign_in(page, served)
        page.goto(f"{served.console_url}/webhooks")
        page.fill("input[name=url]", "http://127.0.0.1:9/hook")
        page.click("button:text('Register webhook')")
        expect(page.locator("h1")).to_have_text("Webhook registered")
        secret = page.locator("#webhook-secret").inner_text()
        assert len(secret) >= 32
        page.click("text=Go to the webhook's page")
        expect(page.locator("h1")).to_contain_text("http://127.0.0.1:9/hook")
        assert secret not in page.content()
        page.goto(f"{served.console_url}/webhooks")
        expect(page.locator("#webhooks tbody tr")).to_have_count(1)
        assert secret not in page.content()
        assert len(served.admin().get("/webhooks").json()["items"]) == 1
        assert page.errors == []
    finally:
        stop(proc)
