"""Every console page in Chromium against a real `identity-gateway serve`, at a phone's width
(390 px) and a laptop's (1280 px), in the light and the dark colour scheme: no page is wider
than the screen, and axe-core finds no violation of any impact. axe runs under the console's
own Content-Security-Policy (Playwright adds it to each document through the DevTools
protocol, which the policy does not govern); each page is checked to still send the policy
and to refuse an inline script.

The pages come from the app's router, plugins' pages included, so a page added later is
checked too: its path parameters are filled in from the seeded data by the segment before
them (an unknown one fails the test, naming it). Answers that are not HTML (the JSON the
pages poll, the CSV export) are no pages. axe-core is pinned and installed by `make install`
(npm); without it, like without Chromium, the tests skip with one line, or fail under
REQUIRE_BROWSER=1."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import Served, first_start, open_page, sign_in
from starlette.routing import Mount, Route

from gateway.app import create_app
from gateway.settings import load_settings

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CUSTOM = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
AXE = Path(os.environ.get("AXE_JS", Path(sys.prefix) / "axe/node_modules/axe-core/axe.min.js"))
PHONE, LAPTOP = 390, 1280
SIZES = [(PHONE, "light"), (LAPTOP, "light"), (PHONE, "dark"), (LAPTOP, "dark")]
CSP_PROBE = """() => new Promise(done => {
  window.__inline = 0;
  document.addEventListener("securitypolicyviolation",
    e => done({ran: window.__inline, directive: e.effectiveDirective}), {once: true});
  const s = document.createElement("script");
  s.textContent = "window.__inline = 1";
  document.body.appendChild(s);
  setTimeout(() => done({ran: window.__inline, directive: null}), 2000);
})"""
# The elements that make a page too wide: past the viewport's right edge, inside a parent
# that is not (an element scrolled inside its own box does not count).
WIDEST = """() => {
  const past = e => e.getBoundingClientRect().right > window.innerWidth + 1;
  const scrolls = e => e && getComputedStyle(e).overflowX !== "visible";
  return [...document.querySelectorAll("body *")]
    .filter(e => past(e) && !past(e.parentElement) && !scrolls(e.parentElement))
    .slice(0, 5).map(e => e.outerHTML.slice(0, 120));
}"""
AXE_RUN = """async () => {
  const found = await axe.run(document, {resultTypes: ["violations"]});
  return found.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary)}));
}"""


def axe_missing() -> str | None:
    if not AXE.is_file():
        return (f"the console's accessibility test needs axe-core: {AXE} is missing "
                "(make install installs it with npm)")
    return None


@pytest.fixture(scope="module")
def axe_source(browser: Any) -> str:
    why = axe_missing()
    if why:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(why + " (REQUIRE_BROWSER=1)")
        pytest.skip(why)
    return AXE.read_text()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict]]:
    """One gateway for the module, seeded so that every page has something to show."""
    with first_start(tmp_path_factory.mktemp("every-page")) as served:
        yield served, seed(served)


# The data the pages show. ----------------------------------------------------------------

def ok(response: Any, *statuses: int) -> dict:
    assert response.status_code in (statuses or (200, 201, 204)), response.text
    return response.json() if response.content else {}


def until(check: Any, within: float = 60.0) -> Any:
    """The first truthy answer of ``check``: for what the gateway writes in the background."""
    deadline = time.monotonic() + within
    while not (answer := check()):
        assert time.monotonic() < deadline, "the background work did not happen in time"
        time.sleep(0.1)
    return answer


def new_user(scim: Any, user_name: str, **extra: Any) -> str:
    return ok(scim.post("/Users", json={"schemas": [CORE], "userName": user_name, "active": True,
                                        **extra}))["id"]


def seed(served: Served) -> dict:
    """Providers of each IdP in each connection state, users in each state, groups (two of
    one name), custom attributes declared and undeclared, a tripped guard, a legal hold,
    organizations with mappings, a failing webhook, errors and refused requests."""
    admin, scim = served.admin(), served.scim()
    pid = served.provider_id
    entra = ok(admin.post("/providers", json={"name": "Entra production", "plugin": "entra"}))
    ok(admin.post("/providers", json={"name": "Okta staging", "plugin": "okta",
                                      "auth": "basic"}))
    hook = ok(admin.post("/webhooks", json={"url": "http://127.0.0.1:9/hooks"}))  # refused
    ok(admin.post(f"/providers/{pid}/custom-attributes", json={
        "schema": CUSTOM, "name": "costCenter", "type": "string",
        "description": "Where the salary is booked"}))
    ada = new_user(scim, "ada@example.com", name={"givenName": "Ada", "familyName": "Lovelace"},
                   displayName="Ada Lovelace", title="Engineer",
                   emails=[{"value": "ada@example.com", "type": "work", "primary": True}],
                   **{ENTERPRISE: {"department": "Research", "manager": {"value": "x"}},
                      CUSTOM: {"costCenter": "CC-1", "site": "Oslo"}})
    users = [new_user(scim, f"user{i}@example.com", displayName=f"User {i}")
             for i in range(8)]
    scim.patch(f"/Users/{ada}", json={"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "Principal engineer"}]})
    bad = scim.post("/Users", json={"schemas": [CORE], "userName": ""})
    assert bad.status_code == 400, bad.text
    groups = [ok(scim.post("/Groups", json={"schemas": [GROUP], "displayName": name,
                                            "members": [{"value": ada}]}))["id"]
              for name in ("Engineers", "Domain Admins", "Ops", "OPS")]
    local = ok(admin.post("/users", json={"userName": "local.admin@example.com"}))["id"]

    ok(admin.post("/legal-holds", json={"user": users[0], "matter": "Case 2026-014",
                                        "placed_by": "legal@example.com"}))
    ok(admin.post("/organizations", json={"name": "Research"}))
    ok(admin.post("/watchlists", json={"name": "Privileged", "description": "Admins"}))
    ok(admin.put(f"/providers/{pid}/org-mapping", json={
        "method": "scim_groups",
        "groups": [{"group": groups[0], "organization": "Research", "priority": 10}]}))
    ok(admin.put(f"/providers/{pid}/role-mapping", json={
        "mappings": [{"group": groups[1], "roles": ["admin"]}]}))
    ok(admin.put(f"/providers/{pid}/watchlist-mapping", json={
        "mappings": [{"group": groups[1], "watchlists": ["Privileged"]}]}))

    # A guard that trips on the third deactivation: two held users and a banner.
    ok(admin.patch(f"/providers/{pid}/deactivation-guard", json={
        "threshold": {"users": 2, "percent": 1}, "window": "60m"}))
    for uid in users[3:7]:
        ok(scim.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "active", "value": False}]}))

    wrong = served.scim(token="not-the-token").get("/Users")
    assert wrong.status_code == 401
    until(lambda: admin.get("/auth-failures").json()["items"])
    until(lambda: admin.get(f"/webhooks/{hook['id']}").json()["failing"])
    entries = admin.get("/sync-log", params={"outcome": "error"}).json()["items"]
    return {"provider": pid, "entra": entra["id"], "user": ada, "held": users[4],
            "hold": users[0], "local": local, "webhook": hook["id"],
            "organization": ok(admin.get("/organizations"))["items"][0]["id"],
            "entry": admin.get("/sync-log").json()["items"][0]["seq"],
            "error_entry": entries[0]["seq"]}


# The pages. ------------------------------------------------------------------------------

# A path parameter, by the segment before it: which seeded value fills it in.
FILL = {("providers", "id"): "provider", ("org-mapping", "id"): "provider",
        ("users", "id"): "user", ("legal-holds", "user_id"): "user",
        ("sync-log", "seq"): "entry", ("webhooks", "id"): "webhook",
        ("organizations", "id"): "organization"}
# More pages that show other states of the same templates.
MORE = ["/providers/{entra}", "/users/{held}", "/users/{hold}", "/users/{local}",
        "/sync-log/{error_entry}", "/sync-log?outcome=error", "/users?q=nobody",
        "/auth-failures?since=5m&provider=-", "/no-such-page", "/users/no-such-user"]


def console_routes(served: Served) -> list[str]:
    """The paths of the console's GET routes, from the router of an app built with the same
    configuration (the core's pages and every plugin's)."""
    app = create_app(load_settings(str(served.config), database=str(served.database)))
    console = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/console")
    router = console.app.app  # inside the SecurityHeaders middleware
    return [r.path for r in router.routes
            if isinstance(r, Route) and r.methods and "GET" in r.methods]


def fill(path: str, values: dict) -> str:
    segments = path.split("/")
    for index, segment in enumerate(segments):
        found = re.fullmatch(r"\{(\w+)(?::\w+)?\}", segment)
        if found:
            key = (segments[index - 1], found.group(1))
            assert key in FILL, f"{path}: no seeded value for {{{key[1]}}} (add it to FILL)"
            segments[index] = str(values[FILL[key]])
    return "/".join(segments)


def page_paths(served: Served, values: dict) -> list[str]:
    paths = [fill(p, values) for p in console_routes(served)]
    return list(dict.fromkeys([*paths, *(m.format(**values) for m in MORE)]))


# The checks. -----------------------------------------------------------------------------

def checked(page: Any, path: str, axe_source: str) -> list[str]:
    """What is wrong with the page the browser shows: wider than the viewport, an axe-core
    violation, a script error or CSP violation of its own, a missing CSP."""
    problems = [f"{path}: {e}" for e in page.errors]
    page.errors.clear()
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        wide = page.evaluate(WIDEST)
        problems.append(f"{path}: {width[0]} px wide in a {width[1]} px viewport: {wide}")
    page.evaluate(axe_source)
    for v in page.evaluate(AXE_RUN):
        problems.append(f"{path}: axe {v['impact']} {v['id']} ({v['help']}): "
                        + json.dumps(v["nodes"]))
    probe = page.evaluate(CSP_PROBE)
    page.errors.clear()  # the probe's own refusal
    if probe != {"ran": 0, "directive": "script-src-elem"}:
        problems.append(f"{path}: an inline script was not refused: {probe}")
    return problems


def visit(page: Any, url: str) -> list[str]:
    response = page.goto(url)
    policy = response.headers.get("content-security-policy", "") if response else ""
    if "script-src 'self'" not in policy:
        return [f"{url}: no Content-Security-Policy"]
    return []


def is_page(page: Any, url: str) -> bool:
    """Whether the answer is a page (not the JSON a page polls, not a download)."""
    answer = page.request.get(url, max_redirects=0)
    return answer.headers.get("content-type", "").startswith("text/html")


@pytest.mark.parametrize(("width", "scheme"), SIZES, ids=[f"{w}px-{s}" for w, s in SIZES])
def test_every_page_fits_the_screen_and_has_no_axe_violation(browser, axe_source, site, width,
                                                             scheme):
    served, values = site
    page = open_page(browser, width, 800, color_scheme=scheme)
    problems: list[str] = []
    seen = 0
    try:
        # Signed out: the sign-in page, with a refused password, and a bare error page.
        for url in (served.console_url + "/sign-in", served.console_url + "/no-such-page"):
            problems += visit(page, url)
            problems += checked(page, url, axe_source)
        page.goto(served.console_url + "/sign-in")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "not the password")
        submit(page, "button[type=submit]")
        problems += checked(page, "sign-in refused", axe_source)
        sign_in(page, served)
        for path in page_paths(served, values):
            if is_page(page, served.console_url + path):
                seen += 1
                problems += visit(page, served.console_url + path)
                problems += checked(page, path, axe_source)
        problems += forms(page, served, axe_source, f"{width}-{scheme}")
    finally:
        page.context.close()
    assert seen >= 20
    assert problems == [], "\n".join(problems)


def submit(page: Any, button: str) -> None:
    with page.expect_navigation():
        page.click(button)


def forms(page: Any, served: Served, axe_source: str, tag: str) -> list[str]:
    """The pages a form leads to: a form refused with its error, the values shown once."""
    problems: list[str] = []
    base = served.console_url
    page.goto(base + "/providers/new")
    page.fill("input[name=name]", f"Refused {tag}")
    page.fill("input[name=deactivation_delay]", "soon")
    submit(page, "main form button[type=submit]")
    problems += checked(page, "providers/new refused", axe_source)
    page.fill("input[name=name]", f"Phone {tag}")
    page.fill("input[name=deactivation_delay]", "15m")
    submit(page, "main form button[type=submit]")
    problems += checked(page, "provider credentials", axe_source)
    page.goto(base + "/users/new")
    page.fill("input[name=userName]", "local.admin@example.com")
    submit(page, "main form button[type=submit]")
    problems += checked(page, "users/new refused", axe_source)
    page.goto(base + "/webhooks")
    page.fill("input[name=url]", "http://127.0.0.1:9/" + tag)
    submit(page, "button:text('Register webhook')")
    problems += checked(page, "webhook registered", axe_source)
    return problems
