"""Fixtures: a real app on a temp SQLite file, driven over HTTP through the ASGI transport."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Iterable

import httpx
import msgspec
import pytest

from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.settings import Settings

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


@pytest.fixture
def database(tmp_path: Any) -> str:
    return os.path.join(str(tmp_path), "gateway.db")


@pytest.fixture
async def gateway(database: str) -> AsyncIterator[Harness]:
    async with running(database) as harness:
        yield harness


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
