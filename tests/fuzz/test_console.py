"""A bounded fuzz run over every console page, on both stores, through the ASGI app, as a
signed-in admin (the console has no OpenAPI document, so hypothesis builds the requests).

The pages are read from the app's router (the core's and every bundled plugin's), so a new
page is fuzzed without being listed here; the names of the fields and parameters come from
the templates (form inputs, links) and from what the handlers read. Each request is one
page with fuzzed path segments and query parameters (GET) or fuzzed form fields carrying
the session's CSRF token (POST): numbers past 64 bits, Unicode digits, NUL, text of every
kind, the ids of things that exist. For each one:

- no answer is a 5xx;
- every 4xx is a console page (HTML), not a stack trace or another API's JSON;
- a refused change (a 4xx to a POST) changes no stored state.

Derandomized with a fixed number of examples: the same requests every run, a few seconds
per store. `make fuzz` runs more (FUZZ_REQUESTS, from a random FUZZ_SEED), as for the other
suites.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from gateway.testing import Harness, running

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ["entra", "okta", "legal_hold", "org_mapping"]
SCALE = int(os.environ.get("FUZZ_REQUESTS", "0")) / 500 or 1.0
FUZZ = settings(max_examples=int(400 * SCALE), derandomize="FUZZ_SEED" not in os.environ,
                deadline=None, database=None, suppress_health_check=list(HealthCheck))
SKIPPED = {"/sign-out"}  # it ends the session the other requests use
# What a refused change must leave as it was (the webhook cursor moves in the background).
STATE = {table: f"SELECT * FROM {table}" for table in
         ("resources", "members", "lifecycle", "outbox", "providers", "credentials", "admins",
          "deactivation_guards", "deactivation_guard_held", "legal_holds", "organizations",
          "org_group_mappings")}
STATE["webhooks"] = "SELECT id, url, secret, events, created_at FROM webhooks"
STATE["sync_log"] = "SELECT * FROM sync_log WHERE outcome = 'success'"


class Page(NamedTuple):
    method: str
    template: str  # /console/webhooks/{id}/redeliver
    reads: tuple[str, ...]  # the names its handler's module reads from a request


READS = re.compile(r'(?:get|getlist)\(f?"(\w+)|\(form, "(\w+)"')


def handler_of(endpoint: Any) -> Any:
    """The function behind the console's wrappers (console_endpoint, plugin_endpoint)."""
    while True:
        inner = getattr(endpoint, "__wrapped__", None) or next(
            (cell.cell_contents for cell in endpoint.__closure__ or ()
             if inspect.iscoroutinefunction(cell.cell_contents)), None)
        if inner is None:
            return endpoint
        endpoint = inner


def reads(module: Any) -> set[str]:
    found = {a or b for a, b in READS.findall(inspect.getsource(module))}
    return {name + "1" if name.endswith("_") else name for name in found}


def console_pages(app: Any) -> list[Page]:
    """Every console page of this app (HEAD left out), with what its module reads."""
    mount = next(r for r in app.router.routes if isinstance(r, Mount) and r.path == "/console")
    router = mount.app.app  # SecurityHeaders around the console's router
    return sorted(Page(method, "/console" + route.path,
                       tuple(sorted(reads(inspect.getmodule(handler_of(route.endpoint))))))
                  for route in router.routes
                  if isinstance(route, Route) and route.path not in SKIPPED
                  for method in route.methods or () if method != "HEAD")


def field_names() -> list[str]:
    """Every name a console page reads: the form inputs and link parameters of the
    templates (the handlers' own reads come with each page)."""
    names: set[str] = set()
    for template in [*ROOT.glob("gateway/console/templates/**/*.html"),
                     *ROOT.glob("plugins/*/identity_gateway_*/templates/**/*.html")]:
        text = template.read_text().replace("{{ loop.index }}", "1")
        names.update(re.findall(r'name="(\w+)"', text))
        names.update(re.findall(r"[?&](\w+)=", text))
    return sorted(names - {"viewport", "csrf_token"})


# -- values ---------------------------------------------------------------------------------

# Numbers as a client may spell them: past 64 bits, Unicode digits str.isdigit() takes,
# forms int() takes ('1_000', ' 7'), and ordinary ones.
NUMBERS = st.one_of(st.sampled_from(
    ["99999999999999999999", "9223372036854775808", "-9223372036854775809", "\u00b2",
     "\u0663", "1e30", "1_000", " 7", "+1", "1.5", "nan", "", "-1", "0", "1"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str))
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
WORDS = st.sampled_from(["on", "off", "true", "false", "1", "all", "csv", "jsonl", "x",
                         "single", "attribute", "scim_groups", "block", "unblock", "deactivate",
                         "reactivate", "success", "error", "active", "blocked", "15m", "60m",
                         "0s", "9999999d", "24h", "7d", "\x00", "a\x00b", "x" * 300,
                         "http://127.0.0.1:9/h", "user.created", "*", "member", "admin",
                         "@admin", "@unknown", "/console/users", "//evil.example", "{}", "[1]",
                         '{"a": 1}', "2026-01-01", "2026-01-01T00:00:00Z"])


@st.composite
def value(draw: Any, ids: list[str]) -> str:
    return draw(st.one_of(NUMBERS, NUMBERS, TEXT, WORDS, st.sampled_from(ids)))


@st.composite
def console_request(draw: Any, pages: list[Page], names: list[str],
                    ids: dict[str, list[str]]) -> tuple[str, str, dict, Any, dict]:
    page = draw(st.sampled_from(pages))
    # Mostly the id of something of the page's kind, so that the page gets past its lookup;
    # a change that removes something gets a spare, so that the seeded ones stay.
    section = page.template.split("/")[2]
    spare = page.template.endswith(("/delete", "/remove"))
    pool = ids["spare"] if spare else ids.get(section, ids["all"])

    def segment(_: Any) -> str:
        known = draw(st.integers(0, 3)) > 0
        return quote(draw(st.sampled_from(pool)) if known else draw(value(pool)), safe="")

    path = re.sub(r"\{\w+\}", segment, page.template)
    # Mostly what the page's own module reads; now and then any name a page reads.
    chosen = draw(st.lists(st.sampled_from(page.reads), max_size=4, unique=True)) \
        if page.reads else []
    chosen += draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    fields = {name: draw(value(ids["all"])) for name in chosen}
    if page.method == "GET":
        return page.method, path, fields, None, {}
    form: Any = fields
    headers: dict = {}
    kind = draw(st.integers(0, 19))
    if kind == 0:  # not a form at all; the token comes as a header
        form = draw(st.sampled_from([b"\xff\xfe", b"a=%ZZ&&==", b"{}", b"x" * 5000]))
        headers = {"Content-Type": draw(st.sampled_from(
            ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
             "multipart/form-data", "application/json", "text/plain"]))}
    if kind == 1:  # repeated fields: every name a page reads with getlist, and others
        form = [(name, draw(value(ids["all"]))) for name in chosen for _ in range(2)]
    return page.method, path, {}, form, headers


# -- the app, one per store and test, shared by its examples --------------------------------


class Env:
    def __init__(self, loop: asyncio.AbstractEventLoop, harness: Harness, csrf: str,
                 client: httpx.AsyncClient, ids: dict[str, list[str]]) -> None:
        self.loop, self.harness, self.csrf, self.client, self.ids = \
            loop, harness, csrf, client, ids

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)


async def seed(gw: Harness) -> dict[str, list[str]]:
    """Something of every kind the console shows, and its ids."""
    idp = await gw.provider("idp")
    spare = await gw.provider("spare")
    user = (await gw.scim(idp, "POST", "/Users", {
        "userName": "seed@example.com", "active": True})).json()["id"]
    group = (await gw.scim(idp, "POST", "/Groups", {
        "displayName": "seed", "members": [{"value": user}]})).json()["id"]
    # Webhooks written as rows, with event 1 dead-lettered: a delivery to a closed loopback
    # port fails at once, and a receiver's address is not what this suite is about.
    async with gw.gw.store.write() as conn:
        for hook in ("hook", "spare-hook"):
            await conn.execute(
                "INSERT INTO webhooks (id, url, secret, events, cursor, created_at) VALUES"
                " (?, 'http://127.0.0.1:9/h', 'sixteen-chars-secret', '[\"*\"]', 2, 'now')",
                (hook,))
        await conn.execute("INSERT INTO deliveries (webhook_id, seq, resource_key, status,"
                           " attempts, next_attempt_at, last_error) VALUES ('hook', 1, 'k',"
                           " 'dead', 10, 'x', 'HTTP 500')")
    org = await gw.admin_api("POST", "/organizations", {"name": "Seed"})
    hold = await gw.admin_api("POST", "/legal-holds", {"user": user, "matter": "Seed v. Fuzz"})
    assert org.status_code == hold.status_code == 201, (org.text, hold.text)
    seqs = ["1", "2", "3"]
    return {"all": [idp.id, user, group, "hook", org.json()["id"], *seqs, "no-such-id"],
            "spare": [spare.id, "spare-hook"], "providers": [idp.id],
            "org-mapping": [idp.id], "users": [user], "legal-holds": [user],
            "webhooks": ["hook"], "organizations": [org.json()["id"]], "sync-log": seqs}


@pytest.fixture
def env(database: str) -> Iterator[Env]:
    loop = asyncio.new_event_loop()
    opened: asyncio.Future = loop.create_future()
    finished = asyncio.Event()

    async def hold() -> None:  # the app's lifespan, entered and left in one task
        async with running(database, enabled=PLUGINS) as harness:
            opened.set_result(harness)
            await finished.wait()

    holder = loop.create_task(hold())
    harness = loop.run_until_complete(opened)
    csrf = loop.run_until_complete(harness.console_sign_in())
    ids = loop.run_until_complete(seed(harness))
    # 500s come back as answers (the app's own handler), not as exceptions in the test; the
    # session cookie is the one the harness's client signed in with.
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app,
                                                             raise_app_exceptions=False),
                               base_url="http://testserver", cookies=harness.client.cookies)
    try:
        yield Env(loop, harness, csrf, client, ids)
    finally:
        loop.run_until_complete(client.aclose())
        finished.set()
        loop.run_until_complete(holder)
        loop.close()


async def state(env: Env) -> dict:
    async with env.harness.gw.store.read() as conn:
        return {table: sorted(map(repr, await conn.fetchall(sql)))
                for table, sql in STATE.items()}


async def send(env: Env, method: str, path: str, params: dict, form: Any,
               headers: dict) -> None:
    content = None
    if method == "POST" and isinstance(form, bytes):
        content, headers = form, {**headers, "X-CSRF-Token": env.csrf}
    elif method == "POST":
        pairs = [*(form.items() if isinstance(form, dict) else form), ("csrf_token", env.csrf)]
        content = urlencode(pairs).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    before = await state(env) if method == "POST" else None
    r = await env.client.request(method, path, params=params, headers=headers,
                                 content=content, follow_redirects=False)
    assert r.status_code < 500, (method, path, params, form, r.text[-2000:])
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("text/html"), (method, path, r.text)
        if method == "POST":
            assert await state(env) == before, (method, path, form, r.status_code, r.text)


def test_console_pages(env: Env) -> None:
    pages = console_pages(env.harness.app)
    names = field_names()
    read = {name for page in pages for name in page.reads}
    assert len(pages) > 40 and {"after", "before", "cursor", "seq", "users"} <= read

    @FUZZ
    @given(console_request(pages, names, env.ids))
    def one(request: tuple) -> None:
        env.run(send(env, *request))

    one()
    # The session held to the end: the fuzzed requests were answered as a signed-in admin.
    r = env.run(env.client.get("/console/providers", follow_redirects=False))
    assert r.status_code == 200, r.text
