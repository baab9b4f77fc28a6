"""The sync log's filters by name, resolved in the query on both stores: a user by userName
or email address (also once deleted), a group by displayName, a provider, an actor; and a
batch (a Bulk request, a plugin's run) as one item of a page that opens to its entries."""

from __future__ import annotations

import json

import pytest

from gateway.events import synclog
from gateway.testing import cli, running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def subjects(page: dict) -> list[tuple[str | None, str]]:
    return [(item["subject"], item["operation"]) for item in page["items"]]


async def test_names_find_their_entries_and_no_others(database):
    async with running(database) as gateway:
        idp = await gateway.provider("Okta production")
        other = await gateway.provider("Entra")
        alice = (await gateway.scim(idp, "POST", "/Users", user_body(
            "alice", emails=[{"value": "Alice.Smith@corp.example", "type": "work"}]))).json()
        bob = (await gateway.scim(idp, "POST", "/Users", user_body(
            "bob", emails=[{"value": "bob@corp.example", "type": "work"}]))).json()
        await gateway.scim(other, "POST", "/Users", user_body("alicia"))
        eng = (await gateway.scim(idp, "POST", "/Groups", {
            "displayName": "Engineering", "members": [{"value": alice["id"]}]})).json()
        await gateway.scim(idp, "POST", "/Groups", {"displayName": "Sales"})
        await gateway.scim(idp, "PATCH", f"/Users/{alice['id']}", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Alice S."}]})
        await gateway.scim(idp, "DELETE", f"/Users/{bob['id']}")
        gw = gateway.gw

        by_email = await synclog.query(gw, who="alice.smith@CORP.example")
        assert subjects(by_email) == [("alice", "patch"), ("alice", "create")]
        assert {i["resource_id"] for i in by_email["items"]} == {alice["id"]}
        assert subjects(await synclog.query(gw, who="ALICE")) == subjects(by_email)
        assert (await synclog.query(gw, who="alic"))["items"] == []  # a name, not a part

        # Deleted by its IdP (and gone from the resources a name resolves through, too):
        # the entries keep the name they were written with.
        gone = await synclog.query(gw, who="bob")
        assert [i["operation"] for i in gone["items"]] == ["delete", "create"]
        async with gw.store.write() as conn:
            await conn.execute("DELETE FROM resources WHERE id = ?", (bob["id"],))
        assert subjects(await synclog.query(gw, who="bob")) == subjects(gone)

        groups = await synclog.query(gw, group="engineering")
        assert [(i["resource_id"], i["subject"]) for i in groups["items"]] == \
            [(eng["id"], "Engineering")]

        entra = await synclog.query(gw, provider=other.id)
        assert subjects(entra) == [("alicia", "create")]
        assert subjects(await synclog.query(gw, actor="Entra")) == subjects(entra)
        assert subjects(await synclog.query(gw, actor=f"provider:{other.id}")) == \
            subjects(entra)

        # Filters combine; a grouped, named page names each resource as it is now.
        both = await synclog.query(gw, who="alice", operation="patch", named=True,
                                   grouped=True)
        assert len(both["items"]) == 1
        assert both["items"][0]["names"]["display_name"] == "Alice S."
        assert (await synclog.query(gw, who="alice", provider=other.id))["items"] == []

        # The admin API and the CLI take the same filters, a provider by its name.
        api = await gateway.admin_json("GET", "/sync-log", params={
            "who": "Alice.Smith@corp.example", "provider": "Okta production"})
        assert [(i["subject"], i["operation"]) for i in api["items"]] == subjects(by_email)
        out = cli("synclog", "--group", "Engineering", "--actor", "Okta production",
                  "--format", "json", database=database)
        assert out.returncode == 0, out.stderr
        assert [json.loads(line)["subject"] for line in out.stdout.splitlines()] == \
            ["Engineering"]


async def test_a_batch_is_one_item_that_opens_to_its_entries(database):
    async with running(database) as gateway:
        idp = await gateway.provider("idp")
        await gateway.scim(idp, "POST", "/Users", user_body("before@example.com"))
        r = await gateway.scim(idp, "POST", "/Bulk", {"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "again",  # 409: taken
             "data": user_body("before@example.com")}, *(
                {"method": "POST", "path": "/Users", "bulkId": f"u{i}",
                 "data": user_body(f"bulk{i}@example.com")} for i in range(30))]})
        assert r.status_code == 200
        await gateway.scim(idp, "POST", "/Users", user_body("after@example.com"))
        await gateway.scim(idp, "POST", "/Users", user_body("bulk0@example.com"))  # 409
        gw = gateway.gw

        page = await synclog.query(gw, limit=3, grouped=True)
        assert [i["subject"] for i in page["items"]] == \
            ["bulk0@example.com", "after@example.com", "bulk29@example.com"]
        batch = page["items"][2]
        assert (batch["batch_entries"], batch["batch_errors"]) == (31, 1)
        assert batch["batch_first"]["subject"] == "before@example.com"
        assert page["items"][0]["batch_entries"] == 1  # not in a batch
        same = await synclog.query(gw, limit=3, grouped=True, provider=idp.id,
                                   operation="create")
        assert [(i["seq"], i["batch_entries"]) for i in same["items"]] == \
            [(i["seq"], i["batch_entries"]) for i in page["items"]]
        rest = await synclog.query(gw, limit=3, grouped=True, cursor=page["next_cursor"])
        assert [i["subject"] for i in rest["items"]] == ["before@example.com"]
        assert rest["next_cursor"] is None

        opened = await synclog.query(gw, limit=100, grouped=True, batch=batch["batch"])
        assert [i["subject"] for i in opened["items"]] == \
            [f"bulk{i}@example.com" for i in reversed(range(30))] + ["before@example.com"]
        assert "batch_entries" not in opened["items"][0]

        # Within a filter, a batch counts its matching entries only.
        ok = await synclog.query(gw, grouped=True, outcome="success")
        assert [(i["subject"], i["batch_entries"], i["batch_errors"]) for i in ok["items"]] \
            == [("after@example.com", 1, 0), ("bulk29@example.com", 30, 0),
                ("before@example.com", 1, 0)]
        # Entries about one user are each listed, with the batch they belong to.
        one = await synclog.query(gw, grouped=True, who="bulk7@example.com")
        assert [(i["subject"], i["batch"]) for i in one["items"]] == \
            [("bulk7@example.com", batch["batch"])]
        assert "batch_entries" not in one["items"][0]
        # Following the log: the batch comes once, counting all of its entries.
        later = await synclog.entries_after(gw, page["items"][2]["seq"] - 2, grouped=True)
        assert [(i["subject"], i["batch_entries"]) for i in later] == [
            ("bulk29@example.com", 31), ("after@example.com", 1),
            ("bulk0@example.com", 1)]


async def test_filters_refuse_what_they_cannot_mean(database):
    async with running(database) as gateway:
        for given in ({"who": "x" * 300}, {"group": "a\x00b"}):
            with pytest.raises(synclog.FilterError):
                await synclog.query(gateway.gw, **given)
        r = await gateway.admin_api("GET", "/sync-log", params={"who": "nobody"})
        assert r.status_code == 200 and r.json()["items"] == []


async def test_a_guard_release_is_one_batch(database):
    async with running(database) as gateway:
        idp = await gateway.provider("idp")
        path = f"/providers/{idp.id}/deactivation-guard"
        await gateway.admin_json("PATCH", path, {"threshold": {"users": 1, "percent": 0}})
        ids = [(await gateway.scim(idp, "POST", "/Users", user_body(f"g{i}@example.com")))
               .json()["id"] for i in range(5)]
        for uid in ids:
            await gateway.scim(idp, "PATCH", f"/Users/{uid}", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": False}]})
        released = await gateway.admin_json("POST", f"{path}/release")
        assert released["released"] == 4  # the first went through; the rest were held

        top = (await synclog.query(gateway.gw, limit=1, grouped=True))["items"][0]
        assert top["operation"] == "deactivation_guard_release"
        assert top["batch_entries"] == 5  # each user's release and the summary
        assert top["batch_first"]["subject"] == "g1@example.com"
        opened = await synclog.query(gateway.gw, batch=top["batch"])
        assert [i["subject"] for i in opened["items"]] == \
            [None, *(f"g{i}@example.com" for i in (4, 3, 2, 1))]
