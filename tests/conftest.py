"""Fixtures: a real app (gateway.testing) on a temp SQLite file or PostgreSQL schema, driven
over HTTP through the ASGI transport.

Tests import helpers from gateway.testing, tests/serving.py and tests/postgres_server.py,
never from a conftest: the console's tests have a conftest of their own, and in this layout
(no __init__.py) two modules named conftest would stand in for each other."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from postgres_server import PG_URL, pg_run, pg_with

from gateway.store import open_store
from gateway.store.base import Store, core_migrations
from gateway.testing import Harness, Provider, running


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: Any, tmp_path: Any) -> str:
    """Each store-touching test runs on a temp SQLite file and on a fresh PostgreSQL schema."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_database")
    return os.path.join(str(tmp_path), "gateway.db")


# PostgreSQL ----------------------------------------------------------------------------------
# The server at TEST_POSTGRES_URL (default: the local one with trust auth). Each test gets its
# own schema, dropped afterwards. Without a server the PostgreSQL cases skip, unless
# REQUIRE_POSTGRES=1 (CI), where they fail instead.

PG_SKIP = "PostgreSQL is not reachable at "


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    """All PostgreSQL cases skipped for want of a server fold into one summary line."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and isinstance(report.longrepr, tuple) and PG_SKIP in report.longrepr[2]:
        report.longrepr = (__file__, POSTGRES_SERVER_LINE, report.longrepr[2])


def postgres_unreachable() -> str | None:
    """Why the PostgreSQL cases cannot run here, or None when they can."""
    try:
        pg_run("SELECT 1")
    except Exception as exc:  # any reason at all: say it once
        return f"{PG_SKIP}{PG_URL} ({type(exc).__name__}: {exc}); its cases are skipped"
    return None


POSTGRES_SERVER_LINE = postgres_unreachable.__code__.co_firstlineno


@pytest.fixture(scope="session")
def postgres_server() -> str:
    reason = postgres_unreachable()
    if reason is not None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
def postgres_schema(postgres_server: str) -> Iterator[str]:
    """A fresh, empty schema; dropped with everything in it afterwards."""
    schema = f"t_{secrets.token_hex(6)}"
    pg_run(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        pg_run(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_database(postgres_schema: str) -> str:
    """A DATABASE URL for the gateway over the test's schema."""
    return pg_with(PG_URL, search_path=postgres_schema, pool_size="4")


@pytest.fixture
async def gateway(database: str) -> AsyncIterator[Harness]:
    async with running(database) as harness:
        yield harness


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    """A store alone, opened and migrated on the `database` backend, closed afterwards."""
    opened = open_store(database)
    await opened.open()
    await opened.migrate(core_migrations(opened.dialect))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def idp(gateway: Harness) -> Provider:
    return await gateway.provider("idp")
