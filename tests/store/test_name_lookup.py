"""The names the console shows for ids, read on both stores: a user's userName and
displayName, a group's displayName as spelled (not its lower-cased key), a whole page of
ids in one lookup."""

from __future__ import annotations

import pytest

from gateway.store import console, names, resources
from gateway.store.base import ResourceRow

pytestmark = pytest.mark.anyio
T = "2024-01-01T00:00:00.000000Z"


def row(rid: str, kind: str, data: dict, hidden: bool = False) -> ResourceRow:
    key = (data.get("userName") or data.get("displayName") or "").lower()
    return ResourceRow(provider_id="p", id=rid, type=kind, external_id=None,
                       name_key=key if kind == "User" else None,
                       display_key=key if kind == "Group" else None, data=data, version=1,
                       created=T, last_modified=T)


async def test_names_of_users_and_groups_in_one_lookup(store):
    async with store.write() as conn:
        await resources.insert(conn, row("u1", "User", {"userName": "Ada@example.com",
                                                        "displayName": "Ada Lovelace"}))
        await resources.insert(conn, row("u2", "User", {"userName": "bob@example.com"}))
        await resources.insert(conn, row("g1", "Group", {"displayName": "Domain Admins"}))
        await resources.add_members(conn, "p", "g1", ["u1"])
    async with store.read() as conn:
        found = await names.resource_names(conn, ["u1", "u2", "g1", "gone", ""])
        groups = await console.groups_of(conn, "u1")
    assert set(found) == {"u1", "u2", "g1"}
    assert names.name_of(found["u1"]) == "Ada@example.com"
    assert found["u1"]["display_name"] == "Ada Lovelace"
    assert names.name_of(found["g1"]) == "Domain Admins"
    assert names.name_of(found.get("gone")) is None
    assert [(g["id"], g["display_name"]) for g in groups] == [("g1", "Domain Admins")]
