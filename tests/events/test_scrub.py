"""No secret reaches the sync log, the events or any table: passwords (and a plugin's own
writeOnly attribute) sent in every form a SCIM client can use, in writes that succeed and in
writes that are refused, are nowhere in the database, its file, the admin API's views or
exports, or the CLI's."""

import sys
from pathlib import Path

import anyio
import msgspec
import pytest

from gateway.events.scrub import Secrets, scrub, secrets_of
from gateway.plugin import Attribute, Schema, hookimpl
from gateway.scim.schema import default_registry
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
EXT = "urn:example:params:scim:schemas:extension:vault:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


class Vault:
    """An extension with a writeOnly attribute and a complex one with a writeOnly part."""

    @hookimpl
    def register_schemas(self, registry):
        registry.extend("User", Schema(id=EXT, name="Vault", description="vault", attributes=(
            Attribute(name="pin", mutability="writeOnly", returned="never"),
            Attribute(name="badge", type="complex", sub_attributes=(
                Attribute(name="number"),
                Attribute(name="code", mutability="writeOnly", returned="never"),
            )),
        )))


class Marks:
    """Distinct secret values, to find each one anywhere it was left."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self) -> str:
        self.sent.append(f"Sekr1t-{len(self.sent):03d}-Zq")
        return self.sent[-1]


def patch(*ops: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


async def send_secrets_every_way(gw, idp, mark: Marks) -> dict[str, int]:
    """Each form of item 1 of the issue, accepted and refused; returns the statuses seen."""
    seen: dict[str, int] = {}

    async def go(label, method, path, body=None, **kw):
        r = await gw.scim(idp, method, path, body, **kw)
        seen[label] = r.status_code
        return r

    created = await go("create", "POST", "/Users", user_body(
        "vault@example.com", password=mark(),
        **{EXT: {"pin": mark(), "badge": {"number": "7", "code": mark()}}}))
    uid = created.json()["id"]
    await go("create-dup-case", "POST", "/Users", user_body("vault@example.com",
                                                              PassWord=mark()))
    await go("create-urn-key", "POST", "/Users", {"schemas": [CORE], "userName": "u2@example.com",
                                                  f"{CORE}:password": mark()})
    await go("create-urn-container", "POST", "/Users",
             {"schemas": [CORE], CORE: {"userName": "u3@example.com", "password": mark()}})
    await go("create-refused-ext", "POST", "/Users", user_body(
        "u4@example.com", **{EXT: {"pin": mark(), "nope": 1}}))
    await go("put-stale", "PUT", f"/Users/{uid}", user_body("vault@example.com", password=mark()),
             headers={"If-Match": 'W/"999"'})
    stale = {"If-Match": 'W/"999"'}
    await go("patch-stale", "PATCH", f"/Users/{uid}",
             patch({"op": "replace", "path": "password", "value": mark()}), headers=stale)
    await go("patch-unknown-id", "PATCH", "/Users/nobody",
             patch({"op": "replace", "path": "password", "value": mark()}))
    await go("patch-bad-second", "PATCH", f"/Users/{uid}",
             patch({"op": "replace", "path": "PASSWORD", "value": mark()},
                   {"op": "frobnicate", "path": "title"}))
    await go("patch-urn-path", "PATCH", f"/Users/{uid}",
             patch({"op": "replace", "path": f"{CORE}:password", "value": mark()},
                   {"op": "bogus"}))
    await go("patch-no-path", "PATCH", f"/Users/{uid}", patch(
        {"op": "replace", "value": {"password": mark(), f"{CORE}:Password": mark(),
                                    f"{EXT}:pin": mark(), f"{EXT}:badge.code": mark(),
                                    "title": "Keeper"}}))
    await go("patch-no-path-refused", "PATCH", f"/Users/{uid}", patch(
        {"op": "replace", "value": {"password": mark(), EXT: {"pin": mark()}, "nope": 1}}))
    await go("patch-ext-path", "PATCH", f"/Users/{uid}", patch(
        {"op": "add", "path": EXT, "value": {"pin": mark(), "badge": {"code": mark()}}},
        {"op": "add", "path": f"{EXT}:badge.code", "value": mark()},
        {"op": "replace", "path": "nosuch", "value": 1}))
    await go("patch-accepted", "PATCH", f"/Users/{uid}", patch(
        {"op": "replace", "path": "password", "value": mark()},
        {"op": "add", "path": f"{EXT}:pin", "value": mark()}))
    await go("bulk", "POST", "/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a",
         "data": user_body("bulk@example.com", password=mark())},
        {"method": "POST", "path": "/Users", "bulkId": "b",
         "data": user_body("vault@example.com", password=mark())},
        {"method": "PATCH", "path": f"/Users/{uid}",
         "data": patch({"op": "replace", "path": "password", "value": mark()},
                       {"op": "oops"})},
        {"method": "PUT", "path": "/Users/nobody",
         "data": user_body("x@example.com", password=mark())},
    ]})
    r = await gw.admin_api("POST", "/users", user_body("local@example.com", password=mark()))
    seen["local"] = r.status_code
    return seen


async def all_rows(gw) -> str:
    """Every row of every table, as text."""
    store = gw.gw.store
    async with store.read() as conn:
        if store.dialect == "sqlite":
            tables = [r["name"] for r in await conn.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            tables = [r["table_name"] for r in await conn.fetchall(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()")]
        dumped = []
        for table in tables:
            dumped.append(repr(await conn.fetchall(f"SELECT * FROM {table}")))
    return "\n".join(dumped)


def files_of(database: str) -> bytes:
    if "://" in database:
        return b""
    return b"".join(p.read_bytes() for p in Path(database).parent.glob(Path(database).name + "*"))


async def test_no_secret_in_any_table_file_view_or_export(database):
    from gateway.testing import running

    mark = Marks()
    async with running(database, plugins={"vault": Vault()}) as gw:
        idp = await gw.provider("idp")
        seen = await send_secrets_every_way(gw, idp, mark)
        assert seen["create"] == 201 and seen["patch-no-path"] == 200, seen
        assert seen["patch-accepted"] == 200 and seen["local"] == 201, seen
        assert {seen[k] for k in ("put-stale", "patch-stale")} == {412}, seen
        assert seen["patch-unknown-id"] == 404 and seen["patch-bad-second"] == 400, seen
        texts = [await all_rows(gw)]
        for path in ("/sync-log?limit=1000", "/sync-log/export?format=jsonl",
                     "/sync-log/export?format=csv", "/events?limit=1000", "/users"):
            r = await gw.admin_api("GET", path)
            assert r.status_code == 200, r.text
            texts.append(r.text)
        log = (await gw.admin_api("GET", "/sync-log?limit=1000")).json()["items"]
        assert sum(entry["outcome"] == "error" for entry in log) >= 10
        # The refusals are still there to read, only without their secrets.
        bad = next(e for e in log if e["status"] == 400 and e["operation"] == "patch"
                   and "frobnicate" in str(e["after"]))
        assert bad["after"]["Operations"][0] == {"op": "replace", "path": "PASSWORD"}
    for command in (["synclog", "--format", "json", "--limit", "1000"],
                    ["synclog-export", "--format", "csv"]):
        cli = await anyio.run_process(
            [str(Path(sys.executable).parent / "identity-gateway"), *command,
             "--database", database, "--config", "/dev/null"], check=False)
        output = cli.stdout.decode()
        assert cli.returncode == 0 and output.count("\n") > 10, cli.stderr
        texts.append(output)
    everything = "\n".join(texts)
    raw = files_of(database)
    assert len(mark.sent) > 25
    for secret in mark.sent:
        assert secret not in everything, secret
        assert secret.encode() not in raw, secret


def test_scrub_forms_by_schema():
    secrets = secrets_of(default_registry())
    assert isinstance(secrets, Secrets) and "password" in secrets.words
    body = {"PASSWORD": 1, "urn:ietf:params:scim:schemas:core:2.0:User:Password": 2,
            "Operations": [{"op": "replace", "path": "passWord", "value": 3},
                           {"op": "add", "path": "title", "value": "kept"},
                           {"op": "add", "value": {"password": 4, "title": "kept"}}],
            "emails": [{"value": "kept"}]}
    assert scrub(body, secrets) == {
        "Operations": [{"op": "replace", "path": "passWord"},
                       {"op": "add", "path": "title", "value": "kept"},
                       {"op": "add", "value": {"title": "kept"}}],
        "emails": [{"value": "kept"}]}


async def test_a_refused_body_is_kept_as_a_bounded_excerpt(gateway, idp):
    big = user_body("big@example.com", title="x" * 1_500_000, nosuch=1)
    for _ in range(5):
        r = await gateway.scim(idp, "POST", "/Users", big)
        assert r.status_code == 400
    log = (await gateway.admin_api("GET", "/sync-log")).json()["items"]
    refused = [e for e in log if e["outcome"] == "error"]
    assert len(refused) == 5
    limit = gateway.gw.settings.sync_log_excerpt
    for entry in refused:
        assert entry["after"]["truncated"] is True
        assert entry["after"]["characters"] > 1_500_000
        assert len(entry["after"]["excerpt"]) == limit
        assert len(msgspec.json.encode(entry)) < 3 * limit
    async with gateway.gw.store.read() as conn:
        stored = await conn.fetchval("SELECT SUM(LENGTH(CAST(after AS TEXT))) FROM sync_log")
    assert stored < 10 * limit
