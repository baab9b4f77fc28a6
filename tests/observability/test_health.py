"""/healthz says the process answers; /readyz says the replica can work, and why not."""

from __future__ import annotations

import pytest

from gateway.accounts import scheduler
from gateway.testing import running

pytestmark = pytest.mark.anyio


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_running_gateway_is_alive_and_ready(gateway):
    assert (await gateway.client.get("/healthz")).json() == {"status": "ok"}
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_a_stuck_loop_makes_the_replica_unready(gateway):
    clock = gateway.gw.heartbeats.clock = FakeMonotonic()
    gateway.gw.heartbeats.beat("delivery", 2.0)  # what the loop does on each pass
    clock.now += 60  # no pass for a minute: 3 intervals and the grace are long gone
    r = await gateway.client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["status"] == "not ready"
    assert any("delivery loop has not run" in reason for reason in r.json()["reasons"])


async def test_the_scheduler_beats_while_it_runs(database):
    async with running(database, scheduler_interval=0.01) as gateway:
        beats = gateway.gw.heartbeats
        await scheduler.scheduler(gateway.gw, rounds=2)
        assert "scheduler" not in beats.loops  # a loop that ended is not waited for
        assert "delivery" in beats.loops and "activity" in beats.loops


async def test_a_migration_missing_from_the_database_makes_it_unready(database):
    async with running(database) as gateway:
        async with gateway.gw.store.write() as conn:  # as if restored from an old backup
            newest = await conn.fetchval("SELECT MAX(version) FROM schema_migrations"
                                         " WHERE component = 'core'")
            await conn.execute("DELETE FROM schema_migrations WHERE component = 'core'"
                               " AND version = ?", (newest,))
        r = await gateway.client.get("/readyz")
        assert r.status_code == 503
        assert f"unapplied migrations: core {newest:04d}_" in r.json()["reasons"][0]


async def test_an_unreachable_store_makes_it_unready(database):
    async with running(database) as gateway:
        await gateway.gw.store.close()
        try:
            r = await gateway.client.get("/readyz")
            assert r.status_code == 503
            assert r.json()["reasons"][0].startswith("the store is unreachable")
            assert (await gateway.client.get("/healthz")).status_code == 200
        finally:
            await gateway.gw.store.open()
