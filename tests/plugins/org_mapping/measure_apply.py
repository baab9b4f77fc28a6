"""Peak memory of apply-mappings against the number of users (not a test: a measurement).

    .venv/bin/python tests/plugins/org_mapping/measure_apply.py 10000 100000

For each count: a fresh SQLite database, that many users written straight to the store in
chunks, then POST /admin/v1/providers/{id}/apply-mappings; prints the report, the time it
took and the peak of Python allocations (tracemalloc) during the apply alone.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
import uuid

import anyio

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from gateway.store import resources  # noqa: E402
from gateway.testing import running  # noqa: E402
from gateway.testing import scim_user as user_body

CHUNK = 5_000


async def fill(harness, pid: str, gid: str, count: int) -> None:
    now = harness.gw.clock.stamp()
    for start in range(0, count, CHUNK):
        rows, links = [], []
        for i in range(start, min(start + CHUNK, count)):
            uid = uuid.uuid4().hex
            data = user_body(f"user{i}@example.com")
            data.pop("schemas")
            rows.append((pid, uid, "User", None, f"user{i}@example.com", None,
                         resources.encode(data), 1, now, now, "active", None, 0))
            if i % 2 == 0:
                links.append((pid, gid, uid))
        async with harness.gw.store.write() as conn:
            await conn.executemany(
                "INSERT INTO resources (provider_id, id, type, external_id, name_key,"
                " display_key, data, version, created, last_modified, state, deactivate_at,"
                " hidden) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            await conn.executemany(
                "INSERT INTO members (provider_id, group_id, member_id) VALUES (?, ?, ?)",
                links)


async def measure(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = {"org_mapping": {"roles": ["editor"]}}
        async with running(os.path.join(folder, "gateway.db"), enabled=["org_mapping"],
                           config=config) as harness:
            idp = await harness.provider("idp")
            r = await harness.scim(idp, "POST", "/Groups", {"displayName": "eng"})
            gid = r.json()["id"]
            await fill(harness, idp.id, gid, count)
            await harness.client.put(f"/admin/v1/providers/{idp.id}/role-mapping",
                                     json={"mappings": [{"group": gid, "roles": ["editor"]}]},
                                     headers=harness.admin)
            tracemalloc.start()
            started = time.perf_counter()
            r = await harness.client.post(f"/admin/v1/providers/{idp.id}/apply-mappings",
                                          headers=harness.admin, timeout=3600)
            took = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{count:>7} users  {took:7.1f} s  peak {peak / 2**20:6.1f} MiB  {r.json()}",
                  flush=True)


if __name__ == "__main__":
    for n in sys.argv[1:] or ["10000"]:
        anyio.run(measure, int(n))
