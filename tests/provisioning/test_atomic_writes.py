"""A SCIM write that fails half-way leaves nothing behind, on both backends.

The failure is injected between the resource write and the sync-log write: a trigger makes
every insert into sync_log fail, so each write below has already changed its resource (and
membership rows, and lifecycle rows) when it breaks.
"""

import httpx
import msgspec
import pytest

from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

FAIL = {
    "sqlite": ["CREATE TRIGGER injected BEFORE INSERT ON sync_log "
               "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"],
    "postgres": ["CREATE FUNCTION injected() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
                 "CREATE TRIGGER injected BEFORE INSERT ON sync_log "
                 "FOR EACH ROW EXECUTE FUNCTION injected()"],
}
HEAL = {"sqlite": ["DROP TRIGGER injected"],
        "postgres": ["DROP TRIGGER injected ON sync_log", "DROP FUNCTION injected()"]}


async def run_sql(gateway, statements: dict) -> None:
    async with gateway.gw.store.write() as conn:
        for sql in statements[conn.dialect]:
            await conn.execute(sql)


async def snapshot(gateway) -> dict:
    """Everything a write could have touched."""
    async with gateway.gw.store.read() as conn:
        out = {}
        for table, order in (("resources", "id"), ("members", "group_id, member_id"),
                             ("lifecycle", "resource_id"), ("sync_log", "seq"),
                             ("outbox", "seq")):
            rows = await conn.fetchall(f"SELECT * FROM {table} ORDER BY {order}")
            for row in rows:
                for key in ("data", "before", "after"):
                    if isinstance(row.get(key), (bytes, str)):  # JSON text vs JSONB text
                        row[key] = msgspec.json.decode(row[key])
            out[table] = rows
    return out


async def test_a_write_failing_before_its_sync_log_entry_leaves_nothing(gateway, idp):
    client = httpx.AsyncClient(  # a 500 comes back as a response, as a real server sends it
        transport=httpx.ASGITransport(app=gateway.app, raise_app_exceptions=False),
        base_url="http://testserver")
    gateway.client = client
    user = (await gateway.scim(idp, "POST", "/Users", user_body("kept@example.com"))).json()
    group = (await gateway.scim(idp, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G",
        "members": [{"value": user["id"]}]})).json()
    before = await snapshot(gateway)
    await run_sql(gateway, FAIL)
    try:
        attempts = [
            ("POST", "/Users", user_body("new@example.com")),
            ("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                 "displayName": "New", "members": [{"value": user["id"]}]}),
            ("PATCH", f"/Users/{user['id']}", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": False},
                               {"op": "replace", "path": "title", "value": "Changed"}]}),
            ("PUT", f"/Groups/{group['id']}", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Renamed", "members": []}),
            ("DELETE", f"/Users/{user['id']}", None),
            ("DELETE", f"/Groups/{group['id']}", None),
        ]
        for method, path, body in attempts:
            r = await gateway.scim(idp, method, path, body)
            assert r.status_code == 500, (method, path, r.text)
            assert "not applied" in r.json()["detail"]
            assert await snapshot(gateway) == before, (method, path)
    finally:
        await run_sql(gateway, HEAL)

    # Nothing half-written stands in the way: the same requests now succeed.
    r = await gateway.scim(idp, "POST", "/Users", user_body("new@example.com"))
    assert r.status_code == 201, r.text
    r = await gateway.scim(idp, "GET", f"/Groups/{group['id']}")
    assert r.json()["displayName"] == "G" and len(r.json()["members"]) == 1
    await client.aclose()
