"""A bounded fuzz run over the SCIM and admin endpoints, on both stores, through the ASGI app.

Hypothesis builds requests from the shapes clients send (SCIM bodies, PatchOps, Bulk, search
requests, admin bodies) with values of every type and size: numbers past 64 bits, lone
surrogates, NUL, deep nesting, wrong types where strings belong. For each one:

- no answer is a 5xx;
- every 4xx has the error body of its API (SCIM on /scim, `{"detail", "status"}` on /admin);
- a refused write changes no stored state (resources, members, lifecycle, outbox, providers,
  webhooks, and the successful sync-log entries);
- passwords sent in every form a client can use (keys, URN-qualified keys, PATCH paths and
  value objects, Bulk) are afterwards in no table, no export and no log line.

Derandomized with a fixed number of examples: the same requests every run, a few seconds.
To explore further, FUZZ_REQUESTS=5000 FUZZ_SEED=1 runs more requests, chosen at random
(`pytest --hypothesis-seed=N` repeats a run).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.testing import Harness, Provider, running

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
MARK = "\u00a7pw\u00a7"  # in every secret sent, in no other generated text
SCALE = int(os.environ.get("FUZZ_REQUESTS", "0")) / 500 or 1.0
FUZZ = settings(max_examples=int(500 * SCALE), derandomize="FUZZ_SEED" not in os.environ,
                deadline=None, database=None, suppress_health_check=list(HealthCheck))
# What a refused write must leave as it was. A webhook's cursor is left out: the delivery
# loop moves it in the background as events are fanned out.
STATE = {table: f"SELECT * FROM {table}" for table in
         ("resources", "members", "lifecycle", "outbox", "providers", "credentials")}
STATE["webhooks"] = "SELECT id, url, secret, events, created_at FROM webhooks"
STATE["sync_log"] = "SELECT * FROM sync_log WHERE outcome = 'success'"

# -- values ---------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\u00a7"), max_size=12)
NAMES = st.sampled_from(["userName", "displayName", "title", "active", "emails", "name",
                         "members", "externalId", "id", "meta", "groups", "schemas",
                         "name.givenName", "emails.value", "nickName", "roles",
                         "x509Certificates", f"{ENT}:department", f"{ENT}:manager", ENT, CORE,
                         f"{CORE}:userName", "urn:x:y", "phoneNumbers", "addresses"])
ATOMS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                  st.floats(allow_nan=False, allow_infinity=False), TEXT,
                  st.sampled_from(["", "a@example.com", "x" * 300, "\x00", "2026-01-01T00:00:00Z",
                                   "bulkId:a", "99999999999999999999"]))
JSON = st.recursive(ATOMS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(NAMES, TEXT), inner, max_size=4)),
    max_leaves=12)
FILTERS = st.one_of(
    st.sampled_from([
        'userName eq "a@example.com"', 'userName eq "\\ud800"', 'userName eq "a\\u0000"',
        'emails[type eq "work"]', 'emails[value co "@"].value', "title pr", "not (active eq true)",
        'meta.lastModified gt "2026-01-01T00:00:00Z"', "userName eq", "((", '"', "a eq 1e999",
        'displayName sw "x" or externalId ew "y"', "members[value eq \"x\"]", "id eq 5",
        f'{ENT}:department eq "R"', 'userName eq "' + "x" * 500 + '"']),
    TEXT)
PATHS = st.one_of(st.sampled_from([
    "title", "password", "PASSWORD", f"{CORE}:password", "emails", 'emails[type eq "work"]',
    'emails[type eq "work"].value', "emails.type", "name.familyName", "active", "members",
    'members[value eq "x"]', "id", "meta", "groups", ENT, f"{ENT}:manager.value", "schemas",
    'emails[value eq "\\ud800"]', "urn:x:y:z", "roles[primary eq true]"]), TEXT)
INTS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70),
                 st.sampled_from(["1", "0", "-5", "99999999999999999999", "1e308", "\u00b2",
                                  "abc", "", "1.5"]))

# -- secrets, in every form of the issue ----------------------------------------------------


@st.composite
def secret(draw: Any) -> str:
    return f"{MARK}{draw(st.integers(0, 10**9))}"


@st.composite
def with_password(draw: Any, body: dict) -> dict:
    key = draw(st.sampled_from(["password", "Password", "PASSWORD", f"{CORE}:password",
                                f"{CORE.upper()}:PASSWORD"]))
    if draw(st.booleans()):
        return {**body, key: draw(secret())}
    return {**body, CORE: {**draw(st.dictionaries(NAMES, ATOMS, max_size=2)),
                           "password": draw(secret())}}


@st.composite
def user_body(draw: Any) -> Any:
    body = {"schemas": draw(st.sampled_from([[CORE], [CORE, ENT], ["urn:x"], "x"])),
            "userName": draw(st.one_of(st.just(f"u{draw(st.integers(0, 30))}@example.com"),
                                       ATOMS))}
    body.update(draw(st.dictionaries(NAMES, JSON, max_size=4)))
    if draw(st.booleans()):
        body = draw(with_password(body))
    return draw(st.one_of(st.just(body), JSON)) if draw(st.integers(0, 9)) == 0 else body


@st.composite
def patch_op(draw: Any) -> Any:
    form = draw(st.integers(0, 5))
    op = draw(st.sampled_from(["add", "replace", "remove", "Replace", "ADD", "bogus", 5]))
    if form == 0:  # a password by path
        return {"op": op, "path": draw(st.sampled_from(["password", "Password",
                                                        f"{CORE}:password"])),
                "value": draw(secret())}
    if form == 1:  # Entra's no-path value object, keys being paths
        value = draw(st.dictionaries(PATHS, JSON, max_size=3))
        value[draw(st.sampled_from(["password", f"{CORE}:password"]))] = draw(secret())
        return {"op": op, "value": value}
    out: dict = {"op": op}
    if draw(st.booleans()):
        out["path"] = draw(st.one_of(PATHS, ATOMS))
    if draw(st.booleans()):
        out["value"] = draw(JSON)
    return draw(st.one_of(st.just(out), JSON)) if form == 5 else out


@st.composite
def patch_body(draw: Any) -> Any:
    return {"schemas": draw(st.sampled_from([[PATCH_OP], [], "x", [PATCH_OP.lower()]])),
            "Operations": draw(st.lists(patch_op(), min_size=0, max_size=4))}


@st.composite
def bulk_body(draw: Any) -> Any:
    ops = []
    for i in range(draw(st.integers(0, 3))):
        method = draw(st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET", 1]))
        path = draw(st.one_of(st.sampled_from(["/Users", "/Groups", "/Users/{uid}",
                                               "/Users/bulkId:a", "/Nope", "Users"]), TEXT))
        data = draw(patch_body()) if method == "PATCH" else draw(user_body())
        ops.append({"method": method, "path": path, "bulkId": draw(st.sampled_from(
            [None, "a", f"b{i}"])), "data": data})
    return {"schemas": draw(st.sampled_from([[BULK], []])), "Operations": ops,
            **draw(st.dictionaries(st.just("failOnErrors"), ATOMS, max_size=1))}


@st.composite
def search_body(draw: Any) -> Any:
    keys = {"filter": FILTERS, "startIndex": INTS, "count": INTS,
            "sortBy": st.one_of(NAMES, ATOMS), "sortOrder": st.one_of(
                st.sampled_from(["ascending", "descending"]), ATOMS),
            "attributes": st.one_of(NAMES, JSON), "excludedAttributes": st.one_of(NAMES, JSON)}
    body = {"schemas": [SEARCH]}
    for key in draw(st.lists(st.sampled_from(list(keys)), max_size=4, unique=True)):
        body[key] = draw(keys[key])
    return body


# -- requests -------------------------------------------------------------------------------


RAW = st.sampled_from([b"[" * 2000 + b"]" * 2000, b"{" * 40, b"{", b"\xff\xfe", b"1e999",
                       b'{"userName": "\\ud800"}', b'{"title": "a\\u0000"}', b"", b"null"])
SCIM_ROUTES = [
    ("GET", "/Users"), ("GET", "/Groups"), ("GET", "/Users/{uid}"), ("GET", "/Groups/{gid}"),
    ("POST", "/Users"), ("POST", "/Groups"), ("PUT", "/Users/{uid}"), ("PUT", "/Users/{missing}"),
    ("PUT", "/Groups/{gid}"), ("PATCH", "/Users/{uid}"), ("PATCH", "/Groups/{gid}"),
    ("PATCH", "/Users/{missing}"), ("DELETE", "/Users/{missing}"), ("POST", "/Users/.search"),
    ("POST", "/.search"), ("POST", "/Groups/.search"), ("POST", "/Bulk"),
]
ODD_TARGETS = ["/ServiceProviderConfig", "/Schemas/" + CORE, "/ResourceTypes/User", "/Me",
               "/Users/a%00b", "/Nope", "/Users/{uid}/x", "/Bulk", "/Users/.search"]


@st.composite
def scim_request(draw: Any) -> tuple[str, str, dict, Any, dict]:
    if draw(st.integers(0, 9)) == 0:  # anything at all, on any route
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
        target = draw(st.sampled_from(ODD_TARGETS + [t for _, t in SCIM_ROUTES]))
    else:
        method, target = draw(st.sampled_from(SCIM_ROUTES))
    params: dict = {}
    for key in draw(st.lists(st.sampled_from(["filter", "startIndex", "count", "sortBy",
                                              "sortOrder", "attributes",
                                              "excludedAttributes"]),
                             max_size=4, unique=True)):
        params[key] = draw(FILTERS if key == "filter" else INTS if key in
                           ("startIndex", "count") else st.one_of(NAMES, TEXT))
    headers = {"If-Match": draw(st.sampled_from(['W/"999"', "*", "x"]))} \
        if method in ("PUT", "PATCH", "DELETE") and draw(st.integers(0, 3)) == 0 else {}
    if method in ("GET", "DELETE"):
        body: Any = None
    elif draw(st.integers(0, 14)) == 0:
        body = draw(RAW)
    elif target.endswith("search"):
        body = draw(search_body())
    elif target == "/Bulk":
        body = draw(bulk_body())
    elif method == "PATCH":
        body = draw(patch_body())
    elif "Users" in target:
        body = draw(user_body())
    else:
        body = {"schemas": [GROUP], "displayName": draw(TEXT),
                "members": draw(st.lists(st.fixed_dictionaries({"value": st.one_of(
                    st.just("{uid}"), TEXT, ATOMS)}), max_size=3))}
    return method, target, {str(k): str(v) for k, v in params.items()}, body, headers


ADMIN_ROUTES = [
    ("GET", "/providers"), ("POST", "/providers"), ("GET", "/providers/{spare}"),
    ("PATCH", "/providers/{spare}"), ("DELETE", "/providers/{spare}"),
    ("POST", "/providers/{spare}/rotate"), ("PATCH", "/providers/nope"), ("GET", "/users"),
    ("POST", "/users"), ("GET", "/users/{uid}"), ("POST", "/users/{uid}/{action}"),
    ("GET", "/sync-log"), ("GET", "/sync-log/export"), ("GET", "/events"),
    ("GET", "/webhooks"), ("POST", "/webhooks"), ("GET", "/webhooks/{hook}/dead-letters"),
    ("POST", "/webhooks/{hook}/redeliver"), ("GET", "/plugins"), ("GET", "/users/a%00"),
    ("DELETE", "/webhooks/nope"),
]
ADMIN_FIELDS = {
    "name": st.one_of(TEXT, ATOMS, JSON), "auth": st.one_of(
        st.sampled_from(["bearer", "basic"]), ATOMS, JSON),
    "plugin": st.one_of(st.none(), st.sampled_from(["nope"]), JSON), "settings": JSON,
    "deactivation_delay": st.one_of(st.sampled_from(["15m", "0s", "99999999999d"]), ATOMS),
    "url": st.one_of(st.just("http://127.0.0.1:9/h"), ATOMS), "secret": ATOMS,
    "events": JSON, "seq": JSON,
}


@st.composite
def admin_request(draw: Any) -> tuple[str, str, dict, Any, dict]:
    method, target = draw(st.sampled_from(ADMIN_ROUTES))
    params: dict = {}
    for key in draw(st.lists(st.sampled_from(["cursor", "limit", "after", "provider", "user",
                                              "state", "q", "since", "until", "format",
                                              "operation", "outcome"]),
                             max_size=3, unique=True)):
        params[key] = draw(st.one_of(INTS, TEXT, st.sampled_from(
            ["\x00", "2026-01-01", "csv", "jsonl", "success", "active", "\u00b2"])))
    body = None
    if method in ("POST", "PATCH"):
        chosen = draw(st.lists(st.sampled_from(list(ADMIN_FIELDS)), max_size=4, unique=True))
        body = {key: draw(ADMIN_FIELDS[key]) for key in chosen}
        if target == "/users":  # a local user, with a password in one of its forms
            body = draw(with_password({"userName": draw(TEXT), **draw(
                st.dictionaries(NAMES, JSON, max_size=3))}))
        if draw(st.integers(0, 9)) == 0:
            body = draw(st.one_of(JSON, RAW))
    action = draw(st.sampled_from(["block", "unblock", "deactivate", "reactivate", "nope"]))
    return method, target.replace("{action}", action), params, body, {}


# -- the app, one per store and test, shared by its examples --------------------------------


class Env:
    def __init__(self, loop: asyncio.AbstractEventLoop, harness: Harness,
                 client: httpx.AsyncClient, idp: Provider, ids: dict) -> None:
        self.loop, self.harness, self.client, self.idp, self.ids = loop, harness, client, idp, ids
        self.secrets_sent = 0  # requests whose body held a secret

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)


@pytest.fixture
def env(database: str) -> Iterator[Env]:
    loop = asyncio.new_event_loop()
    opened: asyncio.Future = loop.create_future()
    finished = asyncio.Event()

    async def hold() -> None:  # the app's lifespan, entered and left in one task
        async with running(database, webhook_allow_networks=["127.0.0.0/8"]) as harness:
            opened.set_result(harness)
            await finished.wait()

    holder = loop.create_task(hold())
    harness = loop.run_until_complete(opened)
    # 500s come back as answers (the app's own handler), not as exceptions in the test.
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app,
                                                             raise_app_exceptions=False),
                               base_url="http://testserver")

    async def setup() -> Env:
        idp = await harness.provider("idp")
        await harness.provider("spare")
        spare = (await harness.admin_api("GET", "/providers")).json()["items"][1]["id"]
        uid = (await harness.scim(idp, "POST", "/Users", {
            "userName": "seed@example.com", "emails": [{"value": "s@example.com",
                                                         "type": "work"}]})).json()["id"]
        gid = (await harness.scim(idp, "POST", "/Groups", {
            "displayName": "seed", "members": [{"value": uid}]})).json()["id"]
        hook = (await harness.admin_api("POST", "/webhooks",
                                        {"url": "http://127.0.0.1:9/h"})).json()["id"]
        return Env(loop, harness, client, idp, {"uid": uid, "gid": gid, "spare": spare,
                                                "hook": hook, "missing": "no-such-id"})

    made = loop.run_until_complete(setup())
    try:
        yield made
    finally:
        loop.run_until_complete(client.aclose())
        finished.set()
        loop.run_until_complete(holder)
        loop.close()


async def state(env: Env) -> dict:
    async with env.harness.gw.store.read() as conn:
        return {table: sorted(map(repr, await conn.fetchall(sql)))
                for table, sql in STATE.items()}


def encoded(body: Any) -> bytes:
    # json, not msgspec: it writes a lone surrogate as the escape a client would send.
    return json.dumps(body).encode()


def check_error(response: httpx.Response, scim: bool) -> None:
    status = response.status_code
    # 501 is the deliberate answer for what is not implemented (/Me, RFC 7644 3.11).
    assert status < 500 or status == 501, response.text
    if status < 400 or status == 401 and not response.content:
        return
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"], body
    if scim:
        assert body["schemas"] == [ERROR] and body["status"] == str(status), body
    else:
        assert body["status"] == status and "schemas" not in body, body


async def send(env: Env, method: str, target: str, params: dict, body: Any, extra: dict,
               scim: bool) -> None:
    path = target.format(**env.ids)
    url = (env.idp.base if scim else "/admin/v1") + path
    headers = {**(env.idp.headers if scim else env.harness.admin), **extra}
    content = None
    if isinstance(body, bytes):
        content = body
    elif body is not None:
        text = json.dumps(body).replace("{uid}", env.ids["uid"])
        content = text.encode()
        if MARK in json.dumps(body, ensure_ascii=False):
            env.secrets_sent += 1
    if content is not None:
        headers["Content-Type"] = "application/scim+json" if scim else "application/json"
    write = method != "GET" and not path.endswith("search")
    before = await state(env) if write else None
    response = await env.client.request(method, url, params=params, content=content,
                                        headers=headers)
    check_error(response, scim)
    if write and response.status_code >= 400:
        assert await state(env) == before, (method, path, response.text)


async def no_secret_left(env: Env, log: str, fewest: int) -> None:
    assert env.secrets_sent >= fewest, f"only {env.secrets_sent} requests held a secret"
    async with env.harness.gw.store.read() as conn:
        tables = [row["name"] for row in await conn.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table'")] \
            if env.harness.gw.store.dialect == "sqlite" else [
            row["table_name"] for row in await conn.fetchall(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()")]
        dumped = [repr(await conn.fetchall(f"SELECT * FROM {t}")) for t in tables]
    for path in ("/sync-log/export?format=jsonl", "/sync-log/export?format=csv",
                 "/events?limit=1000", "/sync-log?limit=1000"):
        dumped.append((await env.harness.admin_api("GET", path)).text)
    everything = "\n".join([*dumped, log])
    at = everything.find(MARK)
    assert at < 0, everything[max(0, at - 300):at + 40]


def test_scim_endpoints(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="identity_gateway")

    @FUZZ
    @given(scim_request())
    def one(request: tuple) -> None:
        env.run(send(env, *request, scim=True))

    one()
    env.run(no_secret_left(env, caplog.text, 30))


def test_admin_endpoints(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="identity_gateway")

    @settings(FUZZ, max_examples=int(300 * SCALE))
    @given(admin_request())
    def one(request: tuple) -> None:
        env.run(send(env, *request, scim=False))

    one()
    env.run(no_secret_left(env, caplog.text, 3))  # local users' bodies carry passwords too
