"""Fixtures: a real app on a temp SQLite file or PostgreSQL schema, driven over HTTP through
the ASGI transport."""

from __future__ import annotations

import os
import secrets
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Iterable, Iterator

import httpx
import msgspec
import pytest

from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.settings import Settings
from gateway.store import open_store
from gateway.store.base import Store, core_migrations

SCIM = "application/scim+json"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Provider(msgspec.Struct):
    id: str
    name: str
    base: str  # path prefix of its SCIM base URL
    headers: dict
    credentials: dict


class Harness:
    """One running app: its client, its gateway object, the admin token, a fake clock."""

    def __init__(self, app: Any, client: httpx.AsyncClient, admin_token: str,
                 clock: FakeClock) -> None:
        self.app = app
        self.gw = app.state.gateway
        self.client = client
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.clock = clock

    async def provider(self, name: str = "idp", auth: str = "bearer", plugin: str | None = None,
                       **settings: Any) -> Provider:
        body = {"name": name, "auth": auth, **settings}
        if plugin:
            body["plugin"] = plugin
        r = await self.client.post("/admin/v1/providers", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        view = r.json()
        creds = view["credentials"]
        if "Bearer token" in creds:
            headers = {"Authorization": f"Bearer {creds['Bearer token']}"}
        else:
            headers = {"Authorization": "Basic " + __import__("base64").b64encode(
                f"{creds['Username']}:{creds['Password']}".encode()).decode()}
        return Provider(id=view["id"], name=name, base=f"/scim/v2/{view['id']}",
                        headers=headers, credentials=creds)

    async def scim(self, provider: Provider, method: str, path: str, body: Any = None,
                   **kw: Any) -> httpx.Response:
        headers = {**provider.headers, **kw.pop("headers", {})}
        if body is not None:
            headers.setdefault("Content-Type", SCIM)
            kw["content"] = msgspec.json.encode(body)
        return await self.client.request(method, provider.base + path, headers=headers, **kw)


@asynccontextmanager
async def running(database: str, plugins: Iterable[Any] = (), enabled: list[str] | None = None,
                  clock: FakeClock | None = None, **settings: Any) -> AsyncIterator[Harness]:
    clock = clock or FakeClock()
    config = Settings(database=database, migrate=True, plugins=enabled or [], **settings)
    app = create_app(config, clock=clock, plugins=plugins, run_scheduler=False)
    async with app.router.lifespan_context(app):
        from gateway import providers

        token = await providers.create_admin_token(app.state.gateway)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(app, client, token, clock)


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

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")


def pg_with(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in params.items())


def pg_run(sql: str) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


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


def user_body(name: str = "alice@example.com", **extra: Any) -> dict:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "active": True,
        "name": {"givenName": "Alice", "familyName": "Liddell"},
        "emails": [{"value": name, "type": "work", "primary": True}],
    }
    body.update(extra)
    return body
