"""Unique group names (the `unique_group_names` provider setting): with it on, a POST, a PUT,
a PATCH and a Bulk operation that would give a group a name another group of the provider
holds (ignoring case, as `displayName eq` does) answer 409 uniqueness naming that group, and
change nothing; without it, duplicates are kept as before. Groups that already share a name
keep working and are listed for the admin. Two concurrent writers of one name against a real
`identity-gateway serve` give one group, on both stores."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from serving import free_port, read_lines, start, stop, wait_ready

from gateway.testing import cli, running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def group(name: str, **extra) -> dict:
    return {"schemas": [GROUP], "displayName": name, **extra}


def rename(name: str) -> dict:
    return {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": name}]}


async def create(gw, provider, name: str) -> dict:
    r = await gw.scim(provider, "POST", "/Groups", group(name))
    assert r.status_code == 201, r.text
    return r.json()


async def named(gw, provider, name: str) -> list[str]:
    found = await gw.scim(provider, "GET", "/Groups",
                          params={"filter": f'displayName eq "{name}"'})
    return [g["displayName"] for g in found.json()["Resources"]]


def refused(r: httpx.Response, holder: dict) -> None:
    """409 uniqueness, naming the group that holds the name."""
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["scimType"] == "uniqueness"
    assert f"group '{holder['displayName']}' (id {holder['id']})" in body["detail"]


async def view(gw, provider) -> dict:
    r = await gw.admin_api("GET", f"/providers/{provider.id}")
    assert r.status_code == 200, r.text
    return r.json()


async def test_without_the_setting_groups_may_share_a_name(gateway, idp):
    first = await create(gateway, idp, "Sales")
    second = await create(gateway, idp, "SALES")
    assert await named(gateway, idp, "sales") == ["Sales", "SALES"]
    shown = await view(gateway, idp)
    assert shown["unique_group_names"] is False
    assert shown["duplicate_group_names"] == [{
        "name": "Sales", "count": 2, "groups": [
            {"id": first["id"], "displayName": "Sales"},
            {"id": second["id"], "displayName": "SALES"}]}]


async def test_every_write_onto_a_taken_name_is_refused_and_changes_nothing(gateway):
    idp = await gateway.provider("idp", unique_group_names=True)
    assert (await view(gateway, idp))["unique_group_names"] is True
    west = await create(gateway, idp, "Sales West")
    other = await create(gateway, idp, "Marketing")
    uid = (await gateway.scim(idp, "POST", "/Users", user_body())).json()["id"]
    tag = (await gateway.scim(idp, "GET", f"/Groups/{other['id']}")).headers["etag"]

    refused(await gateway.scim(idp, "POST", "/Groups", group("sales west")), west)
    refused(await gateway.scim(idp, "PUT", f"/Groups/{other['id']}",
                               group("SALES WEST", members=[{"value": uid}])), west)
    refused(await gateway.scim(idp, "PATCH", f"/Groups/{other['id']}",
                               rename("Sales west")), west)
    refused(await gateway.scim(idp, "PATCH", f"/Groups/{other['id']}", {
        "schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": uid}]},
            {"op": "replace", "value": {"displayName": "sales WEST"}}]}), west)
    answer = await gateway.scim(idp, "POST", "/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": group("SaLeS WeSt")},
        {"method": "PATCH", "path": f"/Groups/{other['id']}", "data": rename("sales west")},
        {"method": "POST", "path": "/Groups", "bulkId": "h", "data": group("Sales East")}]})
    ops = answer.json()["Operations"]
    assert [o["status"] for o in ops] == ["409", "409", "201"], ops
    for op in ops[:2]:
        assert op["response"]["scimType"] == "uniqueness"
        assert west["id"] in op["response"]["detail"]

    # Nothing changed: one group of that name, the other one as it was, with no member.
    assert await named(gateway, idp, "sales west") == ["Sales West"]
    kept = await gateway.scim(idp, "GET", f"/Groups/{other['id']}")
    assert kept.headers["etag"] == tag
    assert kept.json()["displayName"] == "Marketing" and "members" not in kept.json()
    log = (await gateway.admin_api("GET", "/sync-log", params={"outcome": "error"})).json()
    assert sorted((e["operation"], e["status"]) for e in log["items"]) == [
        ("create", 409), ("create", 409), ("patch", 409), ("patch", 409), ("patch", 409),
        ("replace", 409)]
    assert all("is taken" in e["detail"] for e in log["items"])

    # A group keeps its own name in another case; a free name is free; so is a deleted one.
    r = await gateway.scim(idp, "PATCH", f"/Groups/{west['id']}", rename("SALES WEST"))
    assert r.status_code == 204, r.text
    r = await gateway.scim(idp, "PUT", f"/Groups/{other['id']}", group("Brand"))
    assert r.status_code == 200, r.text
    assert (await gateway.scim(idp, "DELETE", f"/Groups/{west['id']}")).status_code == 204
    await create(gateway, idp, "sales west")
    # The rule is per provider: another provider's groups do not hold this one's names.
    elsewhere = await gateway.provider("elsewhere", unique_group_names=True)
    await create(gateway, elsewhere, "Brand")


async def test_names_are_compared_as_displayName_eq_compares_them(gateway):
    idp = await gateway.provider("idp", unique_group_names=True)
    team = await create(gateway, idp, "Équipe Nord")
    refused(await gateway.scim(idp, "POST", "/Groups", group("ÉQUIPE NORD")), team)
    # The same letters in another form are another name, for the rule and for the filter.
    await create(gateway, idp, "Equipe Nord")
    assert await named(gateway, idp, "équipe nord") == ["Équipe Nord"]


async def test_groups_that_share_a_name_keep_working_once_the_rule_is_on(database):
    async with running(database) as gateway:
        idp = await gateway.provider("idp")
        ops = [await create(gateway, idp, name) for name in ("Ops", "OPS", "ops")]
        uid = (await gateway.scim(idp, "POST", "/Users", user_body())).json()["id"]
        bad = await gateway.admin_api("PATCH", f"/providers/{idp.id}",
                                      {"unique_group_names": "yes"})
        assert bad.status_code == 400 and set(bad.json()) == {"detail", "status"}
        assert (await view(gateway, idp))["unique_group_names"] is False
        on = await gateway.admin_api("PATCH", f"/providers/{idp.id}",
                                     {"unique_group_names": True})
        assert on.status_code == 200 and on.json()["unique_group_names"] is True

        # Member edits and a PUT that keeps the name go on as before.
        r = await gateway.scim(idp, "PATCH", f"/Groups/{ops[1]['id']}", {
            "schemas": [PATCH], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": uid}]}]})
        assert r.status_code == 204, r.text
        r = await gateway.scim(idp, "PUT", f"/Groups/{ops[2]['id']}", group("ops"))
        assert r.status_code == 200, r.text
        # No other group can take the name meanwhile.
        refused(await gateway.scim(idp, "POST", "/Groups", group("oPs")), ops[0])

    async with running(database) as gateway:  # a start with duplicates in place
        listed = (await gateway.admin_api("GET", "/providers")).json()["items"]
        assert listed[0]["duplicate_group_names"] == [{
            "name": "Ops", "count": 3,
            "groups": [{"id": g["id"], "displayName": g["displayName"]} for g in ops]}]


async def test_the_cli_turns_the_rule_on_and_off_and_shows_duplicates(database):
    async with running(database) as gateway:
        idp = await gateway.provider("idp")
        await create(gateway, idp, "Finance")
        await create(gateway, idp, "FINANCE")

    on = cli("provider", "set", "idp", "--unique-group-names", "on", database=database)
    assert on.returncode == 0, on.stderr
    assert json.loads(on.stdout)["unique_group_names"] is True
    shown = cli("provider", "show", "idp", database=database)
    assert shown.returncode == 0, shown.stderr
    details = json.loads(shown.stdout)
    assert details["unique_group_names"] is True
    assert [(d["name"], d["count"]) for d in details["duplicate_group_names"]] == [
        ("Finance", 2)]
    off = cli("provider", "set", "idp", "--unique-group-names", "off", database=database)
    assert json.loads(off.stdout)["unique_group_names"] is False
    added = cli("provider", "add", "strict", "--unique-group-names", "on", database=database)
    assert added.returncode == 0, added.stderr
    strict = json.loads(cli("provider", "show", "strict", database=database).stdout)
    assert strict["unique_group_names"] is True
    wrong = cli("provider", "set", "idp", "--unique-group-names", "maybe", database=database)
    assert wrong.returncode == 2 and "unique-group-names" in wrong.stderr


# Concurrent writers against a real serve ------------------------------------------------------

def served(database: str, tmp_path: Path) -> tuple[subprocess.Popen, str, str]:
    """`serve` on `database`: the process, its URL and its admin token."""
    config = tmp_path / "gateway.toml"
    config.write_text("")
    port = free_port()
    proc = start(database, port, config)  # a file or a postgresql:// URL
    lines = read_lines(proc, 3)
    values = dict(line.split(": ", 1) for line in lines if ": " in line)
    assert "Admin token" in values, lines
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/scim/v2/x")
    return proc, url, values["Admin token"]


def test_concurrent_writers_of_one_name_leave_one_group(database, tmp_path):
    proc, url, admin = served(database, tmp_path)
    try:
        asyncio.run(race(url, admin))
    finally:
        stop(proc)


async def race(url: str, admin: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        made = await client.post("/admin/v1/providers", headers={
            "Authorization": f"Bearer {admin}"}, json={"name": "strict",
                                                        "unique_group_names": True})
        assert made.status_code == 201, made.text
        base = f"/scim/v2/{made.json()['id']}"
        scim = {"Authorization": f"Bearer {made.json()['credentials']['Bearer token']}"}

        names = [("Sales West" if i % 2 else "SALES WEST") for i in range(60)]
        created = await asyncio.gather(*[
            client.post(f"{base}/Groups", headers=scim, json=group(name)) for name in names])
        assert sorted(r.status_code for r in created) == [201] + [409] * 59
        assert {r.json()["scimType"] for r in created if r.status_code == 409} == {"uniqueness"}

        groups = [(await client.post(f"{base}/Groups", headers=scim,
                                     json=group(f"Team {i}"))).json()["id"] for i in range(30)]
        renamed = await asyncio.gather(*[
            client.patch(f"{base}/Groups/{gid}", headers=scim, json=rename(f"team X{i % 2}"))
            for i, gid in enumerate(groups)])
        assert sorted(r.status_code for r in renamed) == [204] * 2 + [409] * 28

        for name, count in (("sales west", 1), ("team x0", 1), ("team x1", 1)):
            found = await client.get(f"{base}/Groups", headers=scim,
                                     params={"filter": f'displayName eq "{name}"'})
            assert found.json()["totalResults"] == count, name
