"""Signing in and out of the console in Chromium; the first start's account."""

from __future__ import annotations

import re

import httpx
from console_helpers import sign_in
from playwright.sync_api import expect


def test_first_start_account_signs_in_and_out(served, page):
    assert served.console_url == f"{served.url}/console"
    page.goto(served.console_url)
    assert "/console/sign-in" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_have_text("Wrong name or password")
    sign_in(page, served)
    assert page.locator("nav.side").is_visible()
    expect(page.locator("h1")).to_have_text("Overview")  # the console's home
    cookie = next(c for c in page.context.cookies() if c["name"] == "ig_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r".*/console/sign-in"))
    page.goto(f"{served.console_url}/users")
    assert "/console/sign-in" in page.url  # the session ended on the server
    assert page.errors == []


def test_the_password_is_never_logged_and_sign_in_rotates_the_session(served):
    client = httpx.Client(base_url=served.url, timeout=10)
    form = client.get("/console/sign-in")
    planted = "planted-session-id-0123456789abcdefghijkl"
    client.cookies.set("ig_console", planted, domain="127.0.0.1", path="/console")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = client.post("/console/sign-in", data={"username": "admin", "password": served.password,
                                              "csrf_token": token, "next": "/console/"})
    assert r.status_code == 303
    assert client.cookies.get("ig_console", path="/console") not in (None, planted)
    assert client.get("/console/providers").status_code == 200
    assert served.password not in (served.database.read_bytes().decode("latin-1"))
