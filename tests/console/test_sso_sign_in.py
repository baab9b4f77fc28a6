"""Signing in to the console with the company's identity provider, in Chromium, against a
real `identity-gateway serve` and a real OpenID provider (Canaille, from pytest-iam): the
person signs in at the provider's own pages and lands in the console with the role their
groups give; SSO-only; an issuer that cannot be reached; the Settings page's test sign-in.
The checks of the provider's answer are in tests/accounts/test_sso.py."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import oidc_provider as idp
import pytest
from console_helpers import CONFIG, Served, sign_in
from playwright.sync_api import expect
from serving import free_port, read_lines, rest_of_output, start, stop, wait_ready

Serve = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start a gateway whose [console.sso] is given (a function of its port: the redirect
    URI names it); stopped at the end of the test."""
    started = []

    def run(sso: Callable[[int], str]) -> Served:
        port = free_port()
        config = tmp_path / "identity-gateway.toml"
        config.write_text(CONFIG + sso(port))
        database = tmp_path / "gw.db"
        proc = start(database, port, config)
        started.append(proc)
        values = dict(line.split(": ", 1) for line in read_lines(proc, 5) if ": " in line)
        assert "Console password" in values, values
        wait_ready(values["SCIM base URL"])
        return Served(url=f"http://127.0.0.1:{port}", scim_base=values["SCIM base URL"],
                      bearer=values["Bearer token"], admin_token=values["Admin token"],
                      console_url=values["Console URL"], password=values["Console password"],
                      database=database, config=config, proc=proc)

    yield run
    for proc in started:
        stop(proc)


def canaille(iam_server, **extra) -> tuple[list[idp.Client], Callable[[int], str]]:
    """A client registered at the provider once the port is known, and its [console.sso]."""
    made: list[idp.Client] = []

    def section(port: int) -> str:
        client = idp.register(iam_server, f"http://127.0.0.1:{port}/console/sso/callback")
        made.append(client)
        return idp.toml(idp.settings(iam_server, client, **extra))

    return made, section


def at_the_provider(page, name: str) -> None:
    """Sign in at Canaille's own pages: the login, then the password."""
    page.wait_for_url(re.compile(r"http://localhost:\d+/login"))
    page.fill("input[name=login]", name)
    page.click("button[type=submit]")
    page.fill("input[name=password]", idp.PASSWORD)
    page.click("button[type=submit]")


def test_admins_and_auditors_sign_in_with_their_groups(serve, page, iam_server):
    made, section = canaille(iam_server)
    served = serve(section)
    client = made[0]
    idp.user(iam_server, "alice", client.admins)
    idp.user(iam_server, "bob", client.auditors, client.staff)
    page.goto(f"{served.console_url}/users")
    page.click("text=Sign in with Canaille")
    at_the_provider(page, "alice")
    page.wait_for_url(f"{served.console_url}/users")
    expect(page.locator("header .who")).to_have_text("alice admin")
    page.click("text=Sign out")
    page.context.clear_cookies()  # a new browser for the next person
    page.goto(served.console_url)
    page.click("text=Sign in with Canaille")
    at_the_provider(page, "bob")
    page.wait_for_url(re.compile(r".*/console/$"))  # the overview, the console's home
    expect(page.locator("header .who")).to_have_text("bob auditor")
    page.goto(f"{served.console_url}/settings")
    rows = page.locator("table.list tbody tr")
    expect(rows.filter(has_text="alice")).to_contain_text("SSO")
    expect(rows.filter(has_text="bob")).to_contain_text("auditor")
    listed = served.cli("admin", "list")
    assert re.search(r"^alice\tadmin\tsso\tenabled\t", listed.stdout, re.M), listed.stdout
    assert re.search(r"^admin\tadmin\tlocal\tenabled\t", listed.stdout, re.M)
    assert page.errors == []


def test_no_matching_group_is_refused_with_what_arrived(serve, page, iam_server):
    made, section = canaille(iam_server)
    served = serve(section)
    idp.user(iam_server, "carol", made[0].staff)
    page.goto(served.console_url)
    page.click("text=Sign in with Canaille")
    at_the_provider(page, "carol")
    page.wait_for_url(re.compile(r".*/console/sso/callback.*"))
    expect(page.locator("[role=alert]")).to_have_text(
        f"The claim 'groups' maps to no console role: it held '{made[0].staff}'. An admin "
        "adds one of these values to admin_values or auditor_values")
    page.goto(f"{served.console_url}/users")
    assert "/console/sign-in" in page.url  # not signed in
    assert "carol" not in served.cli("admin", "list").stdout


def test_sso_only_refuses_passwords_but_the_break_glass_account(serve, page, iam_server):
    made, section = canaille(iam_server, only=True, break_glass=["admin"])
    served = serve(section)
    added = served.cli("admin", "add", "ops", "--password-stdin",
                       stdin="a long ops password\n")
    assert added.returncode == 0, added.stderr
    page.goto(served.console_url)
    expect(page.locator(".hint")).to_have_text(
        "Password sign-in is for the break-glass accounts only.")
    page.fill("input[name=username]", "ops")
    page.fill("input[name=password]", "a long ops password")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_have_text(
        "Password sign-in is turned off: sign in with Canaille. (Only the break-glass "
        "accounts may use a password.)")
    sign_in(page, served)  # admin, the break-glass account
    expect(page.locator("header .who")).to_have_text("admin admin")
    with served.admin() as api:
        log = api.get("/sync-log?limit=50").json()["items"]
    assert [(e["actor"], e["detail"]) for e in log if e["operation"] == "console_sign_in"] \
        == [("console:admin", "break-glass password sign-in (single sign-on only)")]
    # Local accounts can be disabled from the accounts list.
    page.goto(f"{served.console_url}/settings")
    page.locator("table.list tr", has_text="ops").locator("text=Disable").click()
    expect(page.locator("[role=status]").first).to_have_text("ops is disabled")
    assert re.search(r"^ops\tadmin\tlocal\tdisabled\t", served.cli("admin", "list").stdout,
                     re.M)


def test_an_unreachable_issuer_leaves_password_sign_in_working(serve, page, tmp_path):
    closed = free_port()  # nothing listens there

    def section(port: int) -> str:
        return idp.toml({"issuer": f"http://127.0.0.1:{closed}", "client_id": "gateway",
                         "client_secret": "not-used-here", "name": "Okta",
                         "admin_values": ["console-admins"]})

    served = serve(section)
    page.goto(served.console_url)
    expect(page.locator(".warning")).to_contain_text("Sign-in with Okta is unavailable")
    page.click("text=Sign in with Okta")  # tried again, and refused with the reason
    expect(page.locator("[role=alert]")).to_contain_text(f"127.0.0.1:{closed}")
    sign_in(page, served)
    expect(page.locator("h1")).to_have_text("Overview")
    stop(served.proc)
    lines = [json.loads(line) for line in rest_of_output(served.proc).splitlines()
             if line.startswith("{")]
    said = [r["message"] for r in lines if r["logger"] == "identity_gateway.sso"]
    assert len(said) == 1 and "unavailable until the issuer answers" in said[0], said


def test_the_settings_page_test_sign_in_shows_the_claims(serve, page, iam_server):
    made, section = canaille(iam_server)
    served = serve(section)
    idp.user(iam_server, "dora", made[0].auditors)
    sign_in(page, served)
    page.goto(f"{served.console_url}/settings")
    expect(page.locator("#sso-redirect-uri")).to_have_text(
        f"{served.url}/console/sso/callback")
    page.click("text=Test sign-in")
    at_the_provider(page, "dora")
    expect(page.locator("#sso-test")).to_contain_text("These claims give the role auditor.")
    expect(page.locator("#sso-test pre")).to_contain_text('"preferred_username": "dora"')
    expect(page.locator("header .who")).to_have_text("admin admin")  # still the admin
    assert "dora" not in served.cli("admin", "list").stdout  # nobody was signed in


def test_a_replayed_callback_is_refused_in_the_browser(serve, page, iam_server):
    """The provider's answer that signed someone in once, opened again after sign-out (the
    browser's history, a shared link): refused, and nobody is signed in."""
    made, section = canaille(iam_server)
    served = serve(section)
    idp.user(iam_server, "erin", made[0].admins)
    landed: list[str] = []
    page.on("request", lambda r: landed.append(r.url) if "/sso/callback" in r.url else None)
    page.goto(served.console_url)
    page.click("text=Sign in with Canaille")
    at_the_provider(page, "erin")
    page.wait_for_url(re.compile(r".*/console/$"))
    expect(page.locator("header .who")).to_have_text("erin admin")
    page.click("text=Sign out")
    page.goto(landed[0])
    expect(page.locator("[role=alert]")).to_contain_text("used already")
    page.goto(f"{served.console_url}/users")
    assert "/console/sign-in" in page.url
