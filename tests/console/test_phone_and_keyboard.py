"""The console on a phone and from the keyboard, in Chromium against a real
`identity-gateway serve`: the menu folded behind a toggle at 390 px and always open at
1280 px; a wide table that scrolls inside its own region, not the page; focus that shows;
the dark colour scheme; reduced motion; live regions that speak only when something
changed, and a copy button that says it copied."""

from __future__ import annotations

from typing import Any

import httpx
from console_helpers import open_page, sign_in
from playwright.sync_api import expect

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
KEPT = "() => document.querySelector('#connection .live-head').kept === 1"


def tab_to(page: Any, check: str, presses: int = 30) -> None:
    """Press Tab until ``check`` (a JS function of the focused element) holds."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => ({check})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element where {check}")


def outline(page: Any) -> str:
    return page.evaluate("() => { const s = getComputedStyle(document.activeElement);"
                         " return s.outlineStyle + ' ' + s.outlineWidth; }")


def test_the_menu_folds_on_a_phone_and_opens_from_the_keyboard(served, browser):
    page = open_page(browser, 390, 800)
    try:
        sign_in(page, served)
        menu = page.locator("nav.side")
        links = menu.locator("a")
        expect(links.first).to_be_hidden()
        # The first Tab offers to skip to the content; the menu's toggle comes next.
        page.keyboard.press("Tab")
        expect(page.locator(".skip")).to_be_focused()
        assert page.locator(".skip").bounding_box()["y"] >= 0  # shown while focused
        tab_to(page, "e => e.tagName === 'SUMMARY'")
        assert outline(page) == "solid 2px"
        page.keyboard.press("Enter")
        expect(links.first).to_be_visible()
        for box in (links.nth(i).bounding_box() for i in range(links.count())):
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        page.keyboard.press("Tab")
        expect(links.first).to_be_focused()
        assert outline(page) == "solid 2px"
        tab_to(page, "e => e.textContent === 'Users'")
        page.keyboard.press("Enter")
        page.wait_for_url("**/console/users")
        expect(page.locator("h1")).to_have_text("Users")
        expect(links.first).to_be_hidden()  # folded again on the next page
        assert page.errors == []
    finally:
        page.context.close()

    wide = open_page(browser, 1280, 800)
    try:
        sign_in(wide, served)
        expect(wide.locator("nav.side summary")).to_be_hidden()
        expect(wide.locator("nav.side a", has_text="Sync log")).to_be_visible()
        wide.locator("nav.side a", has_text="Sync log").click()
        expect(wide.locator("h1")).to_have_text("Sync log")
    finally:
        wide.context.close()


def test_a_wide_table_scrolls_in_its_own_region_from_the_keyboard(served, browser):
    page = open_page(browser, 390, 800)
    try:
        sign_in(page, served)
        page.goto(f"{served.console_url}/providers")
        region = page.get_by_role("region", name="Providers")
        sizes = region.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert sizes[0] > sizes[1]  # nine columns do not fit in 390 px
        tab_to(page, "e => e.getAttribute('role') === 'region'")
        expect(region).to_be_focused()
        assert outline(page) == "solid 2px"
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        page.wait_for_function("() => document.activeElement.scrollLeft > 0")
        assert page.evaluate("() => [window.scrollX, document.documentElement.scrollWidth]") \
            == [0, 390]
    finally:
        page.context.close()


def colours(page: Any) -> tuple[float, float]:
    """The luminance (0 dark to 1 light) of the page's background and of its text."""
    return tuple(page.evaluate("""() => {
      const lum = c => { const [r, g, b] = c.match(/\\d+/g).map(Number);
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
      const style = e => getComputedStyle(e);
      return [lum(style(document.documentElement).backgroundColor),
              lum(style(document.querySelector("h1")).color)];
    }"""))


def test_the_console_follows_the_system_colour_scheme(served, browser):
    for scheme in ("light", "dark"):
        page = open_page(browser, 1280, 800, color_scheme=scheme)
        try:
            sign_in(page, served)
            background, text = colours(page)
            if scheme == "dark":
                assert background < 0.2 and text > 0.8, (background, text)
            else:
                assert background > 0.9 and text < 0.2, (background, text)
            # Form controls and scroll bars follow too.
            assert page.evaluate("() => getComputedStyle(document.documentElement)"
                                 ".colorScheme") == "light dark"
        finally:
            page.context.close()


def new_user(served, name: str) -> None:
    r = served.scim().post("/Users", json={"schemas": [CORE], "userName": name})
    assert r.status_code == 201, r.text


def test_new_sync_log_rows_fade_in_unless_motion_is_reduced(served, browser):
    for motion, fade in (("no-preference", "fresh"), ("reduce", "none")):
        page = open_page(browser, 1280, 800, reduced_motion=motion)
        try:
            sign_in(page, served)
            page.goto(f"{served.console_url}/sync-log")
            expect(page.locator("#announce")).to_have_text("")
            new_user(served, f"{motion}@example.com")
            row = page.locator("#sync-log tbody tr.fresh").first
            expect(row).to_be_visible()
            # Said out loud as well as shown (the user, and where org_mapping placed it).
            fresh = page.locator("#sync-log tbody tr.fresh").count()
            expect(page.locator("#announce")).to_have_text(f"{fresh} new entries")
            assert row.locator("td").first.evaluate(
                "e => getComputedStyle(e).animationName") == fade
            smooth = "smooth" if motion == "no-preference" else "auto"
            assert page.evaluate("() => getComputedStyle(document.documentElement)"
                                 ".scrollBehavior") == smooth
            if motion == "reduce":
                moving = page.evaluate("""() => [...document.querySelectorAll("*")].filter(e => {
                  const s = getComputedStyle(e);
                  return s.animationName !== "none" || parseFloat(s.transitionDuration) > 0;
                }).map(e => e.tagName)""")
                assert moving == []
            assert page.errors == []
        finally:
            page.context.close()


def test_the_connection_check_speaks_only_when_something_changed(served, page):
    created = served.admin().post("/providers", json={"name": "Waiting IdP"}).json()
    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{created['id']}")
    check = page.locator("#connection")
    expect(check).to_have_attribute("role", "status")
    expect(check).to_contain_text("Waiting for the first request")
    # A mark on the element itself (not in its markup): gone if the content is replaced.
    page.evaluate("() => { document.querySelector('#connection .live-head').kept = 1; }")
    for _ in range(2):  # two polls that find nothing new leave the live region alone
        with page.expect_response(lambda r: r.url.endswith("/connection")):
            pass
    page.wait_for_timeout(100)  # the answer's handler has run
    assert page.evaluate(KEPT)

    token = created["credentials"]["Bearer token"]
    r = httpx.get(f"{served.url}/scim/v2/{created['id']}/Users",
                  headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    expect(check).to_have_attribute("data-state", "connected")
    expect(check).to_contain_text("Connected")
    assert not page.evaluate(KEPT)
    assert page.errors == []


def test_a_copy_button_works_from_the_keyboard_and_says_so(served, page):
    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{served.provider_id}")
    tab_to(page, "e => e.classList.contains('copy')")
    page.keyboard.press("Enter")
    expect(page.locator("button.copy").first).to_have_text("Copied")
    expect(page.locator("#announce")).to_have_text("Copied to the clipboard")
    assert page.evaluate("() => navigator.clipboard.readText()") == served.scim_base


def numbers_table(page: Any) -> list[int]:
    """The requests and errors the activity chart's table of numbers adds up to."""
    return page.evaluate("""() => [2, 3].map(column => [...document.querySelectorAll(
      `#activity-numbers tbody td:nth-child(${column + 1})`)]
      .reduce((sum, td) => sum + Number(td.textContent), 0))""")


def test_the_activity_chart_has_its_numbers_as_text_a_keyboard_reaches(served, page):
    client = served.scim()
    for name in ("ann@example.com", "bob@example.com"):
        new_user(served, name)
    assert client.post("/Users", json={"schemas": [CORE], "userName": "ann@example.com"}
                       ).status_code == 409
    sign_in(page, served)
    page.goto(f"{served.console_url}/providers/{served.provider_id}")
    numbers = page.locator("#activity-numbers")
    tab_to(page, "e => e.tagName === 'SUMMARY' && e.closest('#activity-numbers')", 60)
    page.keyboard.press("Enter")
    expect(numbers.locator("table")).to_be_visible()
    assert numbers_table(page) == [3, 1]

    # The chart refreshes while the page is open: the numbers follow, and stay open.
    for _ in range(2):
        assert client.get("/Users", params={"count": 1}).status_code == 200
    expect(page.locator("#activity-summary")).to_contain_text("5 requests", timeout=30_000)
    expect(numbers.locator("table")).to_be_visible()
    assert numbers_table(page) == [5, 1]
    assert page.errors == []
