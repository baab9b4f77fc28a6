"""Providers and credentials: the lookup every SCIM request makes."""

from __future__ import annotations

import pytest

from gateway.accounts.credentials import hash_secret
from gateway.store import providers
from gateway.testing import running

pytestmark = pytest.mark.anyio
WRONG = "sha256$" + "1" * 64


async def steps_of(conn, provider_id: str) -> tuple[int, object]:
    """The SQLite virtual-machine instructions credential_lookup runs, and its answer."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    conn._db.set_progress_handler(tick, 1)
    try:
        found = await providers.credential_lookup(conn, provider_id, WRONG)
    finally:
        conn._db.set_progress_handler(None, 1)
    return count[0], found


async def test_an_id_that_names_no_provider_costs_the_database_what_one_that_does(tmp_path):
    async with running(str(tmp_path / "gw.db"), enabled=["entra"]) as gw:
        ids = [(await gw.provider(f"p{n}", auth=("bearer", "basic")[n % 2])).id
               for n in range(6)]
        r = await gw.client.post("/admin/v1/providers", headers=gw.admin,
                                 json={"name": "e", "auth": "oauth", "plugin": "entra"})
        ids.append(r.json()["id"])
        async with gw.gw.store.lookup() as conn:
            known = [await steps_of(conn, pid) for pid in ids]
            unknown = [await steps_of(conn, pid) for pid in ("0", "0123456789abcdef", "zz")]
    assert all(found[0] is not None and len(found[1]) == 1 for _, found in known)
    assert all(found == (None, []) for _, found in unknown)
    # The same work within one instruction (a hit's aggregate step), whichever id it is.
    steps = [n for n, _ in known + unknown]
    assert max(steps) - min(steps) <= 1, steps


async def test_a_lookup_returns_only_what_the_named_id_holds(database):
    async with running(database) as gw:
        one, two = await gw.provider("one"), await gw.provider("two")
        async with gw.gw.store.lookup() as conn:
            # The other provider's secret: found by its hash, yet not returned for this one;
            # this one's standing credential is.
            for named, other in ((one, two), (two, one)):
                theirs, own = (p.headers["Authorization"].split()[1] for p in (other, named))
                provider, found = await providers.credential_lookup(
                    conn, named.id, hash_secret(theirs))
                assert provider is not None and provider.id == named.id
                assert [c.secret_hash for c in found] == [hash_secret(own)]
            for nobody in ("nope", "0123456789abcdef"):
                assert await providers.credential_lookup(conn, nobody, WRONG) == (None, [])
