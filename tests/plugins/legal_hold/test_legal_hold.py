"""The legal_hold plugin over HTTP: a held user is blocked instead of deactivated, and a
release deactivates it when its provider wants it inactive."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gateway.accounts import scheduler
from gateway.clock import FakeClock
from gateway.testing import Harness, cli, running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

PLUGIN = ["legal_hold"]
DEACTIVATE = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "value": {"active": False}}]}
REACTIVATE = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "value": {"active": True}}]}


async def create(gateway: Harness, idp, name: str = "alice@example.com") -> str:
    r = await gateway.scim(idp, "POST", "/Users", user_body(name))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def hold(gateway: Harness, uid: str, matter: str = "Acme v. Example") -> dict:
    r = await gateway.client.post("/admin/v1/legal-holds", headers=gateway.admin,
                                  json={"user": uid, "matter": matter, "placed_by": "counsel"})
    assert r.status_code == 201, r.text
    return r.json()


async def release(gateway: Harness, uid: str) -> dict:
    r = await gateway.client.delete(f"/admin/v1/legal-holds/{uid}", headers=gateway.admin)
    assert r.status_code == 200, r.text
    return r.json()


async def state(gateway: Harness, uid: str) -> str:
    r = await gateway.client.get(f"/admin/v1/users/{uid}", headers=gateway.admin)
    return r.json()["state"]


async def last_entry(gateway: Harness, uid: str) -> dict:
    r = await gateway.client.get(f"/admin/v1/sync-log?user={uid}", headers=gateway.admin)
    return r.json()["items"][0]


async def last_event(gateway: Harness, uid: str) -> str:
    r = await gateway.client.get("/admin/v1/events?after=0&limit=1000", headers=gateway.admin)
    return [e["type"] for e in r.json()["items"] if e["resource_id"] == uid][-1]


async def test_hold_blocks_a_due_deactivation_and_release_deactivates(database):
    async with running(database, enabled=PLUGIN) as gateway:
        idp = await gateway.provider()
        uid = await create(gateway, idp)
        placed = await hold(gateway, uid)
        assert placed["matter"] == "Acme v. Example" and placed["placed_by"] == "counsel"
        assert placed["placed_at"] == "2026-01-01T00:00:00.000000Z"
        view = (await gateway.client.get(f"/admin/v1/users/{uid}", headers=gateway.admin)).json()
        assert view["legal_hold"]["matter"] == "Acme v. Example"
        assert await last_event(gateway, uid) == "user.legal_hold_placed"

        await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
        assert await state(gateway, uid) == "pending_deactivation"  # the delay still runs
        gateway.clock.advance(minutes=16)
        assert await scheduler.run_due(gateway.gw) == 1
        assert await state(gateway, uid) == "blocked"
        entry = await last_entry(gateway, uid)
        assert entry["actor"] == "scheduler" and entry["reason"] == "legal_hold: Acme v. Example"
        assert (entry["before"]["state"], entry["after"]["state"]) == (
            "pending_deactivation", "blocked")
        assert await last_event(gateway, uid) == "user.blocked"

        released = await release(gateway, uid)
        assert released["released_by"] == "admin" and released["user_state"] == "deactivated"
        assert await state(gateway, uid) == "deactivated"
        entry = await last_entry(gateway, uid)
        assert (entry["actor"], entry["reason"]) == ("legal_hold", "legal_hold_released")
        assert (entry["before"]["state"], entry["after"]["state"]) == ("blocked", "deactivated")
        assert await last_event(gateway, uid) == "user.deactivated"
        view = (await gateway.client.get(f"/admin/v1/users/{uid}", headers=gateway.admin)).json()
        assert view["legal_hold"] is None


async def test_zero_delay_and_admin_deactivation_block_a_held_user(database):
    async with running(database, enabled=PLUGIN) as gateway:
        idp = await gateway.provider(deactivation_delay="0s")
        uid = await create(gateway, idp)
        other = await create(gateway, idp, "bob@example.com")
        await hold(gateway, uid)
        await hold(gateway, other)
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
        assert await state(gateway, uid) == "blocked"
        assert (await last_entry(gateway, uid))["reason"] == "legal_hold: Acme v. Example"
        r = await gateway.client.post(f"/admin/v1/users/{other}/deactivate",
                                      headers=gateway.admin)
        assert r.json()["state"] == "blocked"
        # The admin's unblock of a user its provider wants inactive is a deactivation too.
        r = await gateway.client.post(f"/admin/v1/users/{uid}/unblock", headers=gateway.admin)
        assert r.json()["state"] == "blocked"


async def test_a_deleted_held_user_is_blocked_then_deactivated_on_release(database):
    async with running(database, enabled=PLUGIN) as gateway:
        idp = await gateway.provider()
        uid = await create(gateway, idp)
        await hold(gateway, uid)
        assert (await gateway.scim(idp, "DELETE", f"/Users/{uid}")).status_code == 204
        assert (await gateway.scim(idp, "GET", f"/Users/{uid}")).status_code == 404
        gateway.clock.advance(minutes=16)
        await scheduler.run_due(gateway.gw)
        assert await state(gateway, uid) == "blocked"
        assert (await release(gateway, uid))["user_state"] == "deactivated"


async def test_release_leaves_users_their_provider_wants_active(database):
    async with running(database, enabled=PLUGIN) as gateway:
        idp = await gateway.provider()
        live = await create(gateway, idp)
        await hold(gateway, live)
        assert (await release(gateway, live))["user_state"] == "active"
        assert await state(gateway, live) == "active"

        back = await create(gateway, idp, "bob@example.com")
        await hold(gateway, back)
        await gateway.scim(idp, "PATCH", f"/Users/{back}", DEACTIVATE)
        gateway.clock.advance(minutes=16)
        await scheduler.run_due(gateway.gw)
        await gateway.scim(idp, "PATCH", f"/Users/{back}", REACTIVATE)
        assert await state(gateway, back) == "blocked"  # a provider never unblocks
        assert (await release(gateway, back))["user_state"] == "blocked"
        r = await gateway.client.post(f"/admin/v1/users/{back}/unblock", headers=gateway.admin)
        assert r.json()["state"] == "active"


async def test_holds_are_validated_and_listed(database):
    async with running(database, enabled=PLUGIN) as gateway:
        idp = await gateway.provider()
        uid = await create(gateway, idp)
        url = "/admin/v1/legal-holds"
        for body, status in (({"user": uid}, 400), ({"user": uid, "matter": " "}, 400),
                             ({"user": "nobody", "matter": "M"}, 404), ([1], 400)):
            r = await gateway.client.post(url, json=body, headers=gateway.admin)
            assert r.status_code == status, r.text
            assert r.json()["status"] == status and r.json()["detail"]
        bad = await gateway.client.post(url, content=b"{", headers=gateway.admin)
        assert bad.status_code == 400
        assert (await gateway.client.get(url, headers=gateway.admin)).json()["items"] == []
        await hold(gateway, uid, "First")
        again = await gateway.client.post(url, json={"user": uid, "matter": "Second"},
                                          headers=gateway.admin)
        assert again.status_code == 409 and "First" in again.json()["detail"]
        assert (await gateway.client.delete(f"{url}/nobody", headers=gateway.admin)
                ).status_code == 404
        listed = (await gateway.client.get(url, headers=gateway.admin)).json()
        assert [(h["user"], h["matter"], h["active"]) for h in listed["items"]] == [
            (uid, "First", True)]
        await release(gateway, uid)
        assert (await gateway.client.get(url, headers=gateway.admin)).json()["items"] == []
        history = (await gateway.client.get(f"{url}?all=1", headers=gateway.admin)).json()
        assert [h["released_at"] is not None for h in history["items"]] == [True]
        anonymous = await gateway.client.get(url)
        assert anonymous.status_code == 401


async def test_disabled_plugin_has_no_routes_and_holds_have_no_effect(database):
    clock = FakeClock()
    async with running(database, enabled=PLUGIN, clock=clock) as gateway:
        idp = await gateway.provider()
        uid = await create(gateway, idp)
        await hold(gateway, uid)
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    clock.advance(minutes=16)
    async with running(database, clock=clock) as gateway:
        r = await gateway.client.get("/admin/v1/legal-holds", headers=gateway.admin)
        assert r.status_code == 404
        assert await scheduler.run_due(gateway.gw) == 1
        assert await state(gateway, uid) == "deactivated"


async def test_a_hold_survives_a_restart(database):
    clock = FakeClock()
    async with running(database, enabled=PLUGIN, clock=clock) as gateway:
        idp = await gateway.provider()
        uid = await create(gateway, idp)
        await hold(gateway, uid)
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    clock.advance(minutes=16)
    async with running(database, enabled=PLUGIN, clock=clock) as gateway:
        assert await scheduler.run_due(gateway.gw) == 1
        assert await state(gateway, uid) == "blocked"


def test_cli_places_lists_and_releases_holds(tmp_path):
    db, config = tmp_path / "gw.db", tmp_path / "gw.toml"
    config.write_text('[plugins]\nenabled = ["legal_hold"]\n')

    def run(*args: str, conf: Path = config) -> subprocess.CompletedProcess[str]:
        return cli(*args, database=db, config=conf)

    assert run("migrate").returncode == 0
    body = tmp_path / "user.json"
    body.write_text('{"userName": "ops@example.com"}')
    created = run("user", "create", str(body))
    assert created.returncode == 0, created.stderr
    uid = next(line.split('"')[3] for line in created.stdout.splitlines()
               if line.strip().startswith('"id"'))
    placed = run("legal-hold", "place", uid, "--matter", "Audit 2026", "--by", "legal")
    assert placed.returncode == 0, placed.stderr
    assert '"matter": "Audit 2026"' in placed.stdout
    listed = run("legal-hold", "list")
    assert uid in listed.stdout and "Audit 2026" in listed.stdout and "legal" in listed.stdout
    shown = run("user", "show", uid)
    assert '"legal_hold": {' in shown.stdout
    blocked = run("user", "deactivate", uid)
    assert blocked.returncode == 0 and "\tblocked" in blocked.stdout
    assert run("legal-hold", "release", uid).returncode == 0
    assert run("legal-hold", "list").stdout == ""
    assert run("legal-hold", "release", uid).returncode == 2
    none = tmp_path / "none.toml"
    none.write_text("")
    assert run("legal-hold", "list", conf=none).returncode == 2  # no such command


async def test_postgres_migration_keeps_one_active_hold_per_user():
    import secrets

    asyncpg = pytest.importorskip("asyncpg")
    import identity_gateway_legal_hold as plugin

    try:
        conn = await asyncpg.connect("postgresql://127.0.0.1:5432/test", timeout=5)
    except (OSError, asyncpg.PostgresError):
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    schema = f"legal_hold_{secrets.token_hex(4)}"  # private: the database is shared
    try:
        await conn.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}")
        [migration] = plugin.migrations("postgres")
        assert (migration.component, migration.version) == ("legal_hold", 1)
        await conn.execute(migration.sql)
        insert = ("INSERT INTO legal_holds (user_id, matter, placed_by, placed_at)"
                  " VALUES ($1, $2, 'admin', '2026-01-01T00:00:00.000000Z') RETURNING id")
        first = await conn.fetchval(insert, "u1", "A")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.fetchval(insert, "u1", "B")
        await conn.execute("UPDATE legal_holds SET released_at = 'x' WHERE id = $1", first)
        assert await conn.fetchval(insert, "u1", "B") > first
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


@pytest.mark.parametrize("cursor", ["1e30", "99999999999999999999", "%C2%B2", "-1", "x"])
async def test_a_list_cursor_that_is_not_a_number(database, cursor):
    """Once read as "from the start" ('1e30', 'x') or answered 500 (past 64 bits, '²')."""
    async with running(database, enabled=PLUGIN) as gateway:
        r = await gateway.client.get(f"/admin/v1/legal-holds?cursor={cursor}",
                                     headers=gateway.admin)
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("'cursor' must be a whole number from 0 to ")
