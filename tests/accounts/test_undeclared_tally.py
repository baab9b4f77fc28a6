"""What a provider's IdP sends that nothing declares is counted in the store, by one
statement per write inside the write's transaction: concurrent clients against a real
`identity-gateway serve` on each store lose no count. (Two replicas at once:
tests/store/test_replicas.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from serving import LINE, free_port, read_lines, start, stop, wait_ready

from gateway.testing import scim_user

OKTA = "urn:ietf:params:scim:schemas:custom:Space"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WRITERS = 40


def test_concurrent_writes_count_each_undeclared_attribute(database, tmp_path: Path):
    proc = start(database if "://" in database else Path(database), free_port())
    try:
        lines = read_lines(proc, 3)
        assert len(lines) == 3 and LINE.match(lines[0]), lines
        base = LINE.match(lines[0]).group(1)
        scim = {"Authorization": f"Bearer {lines[1].split(': ', 1)[1]}"}
        admin = {"Authorization": f"Bearer {lines[2].split(': ', 1)[1]}"}
        root, pid = base.split("/scim/")[0], base.rsplit("/", 1)[1]
        wait_ready(base)

        async def go() -> dict:
            async with httpx.AsyncClient(timeout=60) as client:
                created = await asyncio.gather(*[
                    client.post(f"{base}/Users", headers=scim, json=scim_user(
                        f"u{i}@example.com", **{OKTA: {"custom1": f"v{i}"}}))
                    for i in range(WRITERS)])
                assert {r.status_code for r in created} == {201}, [r.text for r in created]
                patched = await asyncio.gather(*[
                    client.patch(f"{base}/Users/{r.json()['id']}", headers=scim, json={
                        "schemas": [PATCH_OP], "Operations": [
                            {"op": "replace", "path": f"{OKTA}:custom1", "value": "again"}]})
                    for r in created])
                assert {r.status_code for r in patched} == {200}
                listed = await client.get(f"{root}/admin/v1/providers/{pid}/custom-attributes",
                                          headers=admin)
                return {u["path"]: u for u in listed.json()["undeclared"]}

        seen = asyncio.run(go())
        assert seen[f"{OKTA}:custom1"]["count"] == 2 * WRITERS
        assert seen[f"{OKTA}:custom1"]["example"] == "again"
    finally:
        stop(proc)
