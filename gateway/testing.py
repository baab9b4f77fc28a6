"""A test harness for the gateway and its plugins: a real app on a real database, driven
over HTTP through the ASGI transport.

The gateway's own tests use it, and so can a plugin's::

    from gateway.testing import running, scim_user

    async def test_my_rule(tmp_path):
        async with running(tmp_path / "gw.db", enabled=["my_plugin"]) as gw:
            idp = await gw.provider("idp", plugin="my_plugin")
            r = await gw.scim(idp, "POST", "/Users", scim_user("a@example.com"))
            assert r.status_code == 400

``running`` applies the migrations (the core's and every enabled plugin's), creates an admin
token, and closes everything however the block ends. ``plugins`` passes plugin objects or
modules directly (no entry point needed; a dict names them, so that a provider can name
its plugin); ``enabled`` names installed entry-point plugins.
The clock is a ``FakeClock`` that the test moves with ``gw.clock.advance(minutes=15)``; the
lifecycle scheduler does not run by itself (call ``gateway.accounts.scheduler.run_due``).

Besides the harness: ``expect`` / ``expect_scim_error`` / ``expect_admin_error`` check an
answer's status and shape; ``cli`` runs the ``identity-gateway`` command as an operator
would; ``assert_public_imports`` holds a plugin to the public surface (``gateway.plugin``).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import msgspec
from starlette.applications import Starlette

from gateway.accounts import admins
from gateway.accounts.providers import create_admin_token
from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.core import Gateway
from gateway.scim.errors import ERROR_SCHEMA
from gateway.scim.schema import USER_SCHEMA
from gateway.settings import KEYS_VARIABLE, Settings

SCIM = "application/scim+json"
T = TypeVar("T")


class Provider(msgspec.Struct):
    id: str
    name: str
    base: str  # path prefix of its SCIM base URL
    headers: dict[str, str]
    credentials: dict[str, str]


class Harness:
    """One running app: its client, its gateway object, the admin token, a fake clock."""

    def __init__(self, app: Starlette, client: httpx.AsyncClient, admin_token: str,
                 clock: FakeClock) -> None:
        self.app = app
        self.gw: Gateway = app.state.gateway
        self.client = client
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.clock = clock

    async def provider(self, name: str = "idp", auth: str = "bearer", plugin: str | None = None,
                       **settings: Any) -> Provider:
        """A new provider through the admin API, with the headers its IdP would send."""
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
            pair = f"{creds['Username']}:{creds['Password']}".encode()
            headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return Provider(id=view["id"], name=name, base=f"/scim/v2/{view['id']}",
                        headers=headers, credentials=creds)

    async def scim(self, provider: Provider, method: str, path: str, body: Any = None,
                   **kw: Any) -> httpx.Response:
        """A SCIM request as the provider's IdP sends it (path relative to its base URL)."""
        headers = {**provider.headers, **kw.pop("headers", {})}
        if body is not None:
            headers.setdefault("Content-Type", SCIM)
            kw["content"] = msgspec.json.encode(body)
        return await self.client.request(method, provider.base + path, headers=headers, **kw)

    async def console_sign_in(self, name: str = "console-admin", role: str = "admin") -> str:
        """A console account with that role, signed in through the sign-in form on this
        harness's client, which keeps the session cookie from then on; returns the session's
        CSRF token, for the ``csrf_token`` field of a console form."""
        password = admins.new_password()
        await admins.add_admin(self.gw, name, role, password)
        form = await self.client.get("/console/sign-in")
        r = await self.client.post("/console/sign-in", data={
            "username": name, "password": password, "csrf_token": csrf_of(form.text),
            "next": "/console/providers"})
        assert r.status_code == 303, r.text
        return csrf_of((await self.client.get("/console/providers")).text)

    async def admin_api(self, method: str, path: str, body: Any = None,
                        **kw: Any) -> httpx.Response:
        """An admin API request (path under /admin/v1) with the admin token."""
        if body is not None:
            kw["json"] = body
        return await self.client.request(method, "/admin/v1" + path, headers=self.admin, **kw)

    async def admin_json(self, method: str, path: str, body: Any = None, status: int = 200,
                         **kw: Any) -> Any:
        """An admin API request whose answer must have `status`: its JSON (None when it has
        no body)."""
        return expect(await self.admin_api(method, path, body, **kw), status)


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on a console page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def sealing_keys(database: str | os.PathLike) -> list[str]:
    """The keys webhook secrets are sealed with in a test: IDENTITY_GATEWAY_SECRET_KEYS when
    set (so that a CLI run in the test reads them too), else one derived from the database's
    name, so that a test that restarts on the same database reads them again. For tests
    only: a real key is random (`identity-gateway secrets new-key`)."""
    given = [k for k in os.environ.get(KEYS_VARIABLE, "").split(",") if k.strip()]
    digest = hashlib.sha256(f"identity-gateway test key {database}".encode()).digest()
    return given or [base64.urlsafe_b64encode(digest).decode()]


@asynccontextmanager
async def running(database: str | os.PathLike,
                  plugins: Iterable[Any] | Mapping[str, Any] = (),
                  enabled: list[str] | None = None, clock: FakeClock | None = None,
                  **settings: Any) -> AsyncIterator[Harness]:
    """A running app on `database` (a SQLite file path or a postgresql:// URL)."""
    clock = clock or FakeClock()
    settings.setdefault("secret_keys", sealing_keys(database))
    config = Settings(database=str(database), migrate=True, plugins=enabled or [], **settings)
    app = create_app(config, clock=clock, plugins=plugins, run_scheduler=False)
    async with app.router.lifespan_context(app):
        token = await create_admin_token(app.state.gateway)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(app, client, token, clock)


async def eventually(check: Callable[[], Awaitable[T] | T], within: float = 60.0,
                     every: float = 0.05, what: str = "the condition") -> T:
    """The first truthy answer of `check` (called again every `every` seconds), or an
    AssertionError once `within` seconds have passed. For work that happens in the
    background (deliveries, statistics): the bound is a ceiling for a stuck test on a busy
    machine, not a measure of speed."""
    deadline = time.monotonic() + within
    while True:
        answer = check()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {within:g}s")
        await anyio.sleep(every)


def scim_user(name: str = "alice@example.com", **extra: Any) -> dict[str, Any]:
    """A SCIM User body with the usual attributes; `extra` adds or replaces attributes."""
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": name,
        "active": True,
        "name": {"givenName": "Alice", "familyName": "Liddell"},
        "emails": [{"value": name, "type": "work", "primary": True}],
    }
    body.update(extra)
    return body


# Answers ------------------------------------------------------------------------------------

def expect(response: httpx.Response, status: int) -> Any:
    """The answer's JSON once its status is `status` (None when it has no body); otherwise
    an AssertionError that shows the answer."""
    assert response.status_code == status, \
        f"expected {status}, got {response.status_code}: {response.text[:2000]}"
    return response.json() if response.content else None


def expect_scim_error(response: httpx.Response, status: int,
                      scim_type: str | None = None) -> str:
    """A SCIM error answer (RFC 7644 3.12) with `status` (and `scim_type`, when given): its
    media type, its Error schema, its status as a string. Returns its detail."""
    body = expect(response, status)
    assert response.headers["content-type"].startswith("application/scim+json"), \
        response.headers["content-type"]
    assert isinstance(body, dict) and body.get("schemas") == [ERROR_SCHEMA], body
    assert body.get("status") == str(status), body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    detail = body.get("detail")
    assert isinstance(detail, str) and detail, body
    return detail


def expect_admin_error(response: httpx.Response, status: int) -> str:
    """An admin API refusal, ``{"detail", "status"}``, with `status`. Returns its detail."""
    body = expect(response, status)
    assert isinstance(body, dict) and body.get("status") == status, body
    detail = body.get("detail")
    assert isinstance(detail, str) and detail, body
    return detail


# The command line -----------------------------------------------------------------------------

def cli_command() -> list[str]:
    """How to run `identity-gateway` from this interpreter: its script beside the
    interpreter when installed there, else the module."""
    script = Path(sys.executable).parent / "identity-gateway"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli.main"]


def cli(*args: str, database: str | os.PathLike[str] | None = None,
        config: str | os.PathLike[str] | None = os.devnull, input: str | None = None,
        env: Mapping[str, str] | None = None, timeout: float = 120.0
        ) -> subprocess.CompletedProcess[str]:
    """`identity-gateway ARGS... --database DATABASE --config CONFIG` in a process of its
    own, as an operator runs it; its exit status, standard output and error. `config`
    defaults to an empty file (not a stray identity-gateway.toml of the working folder);
    None leaves it out, as `database` None does."""
    argv = [*cli_command(), *args]
    if database is not None:
        argv += ["--database", str(database)]
    if config is not None:
        argv += ["--config", str(config)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                          env={**os.environ, **(env or {})})


# The public surface -----------------------------------------------------------------------------

PUBLIC = ("gateway.plugin",)


def runtime_imports(tree: ast.AST) -> list[tuple[ast.stmt, str, list[str]]]:
    """(statement, module, names) of every import that runs, at any depth: not those under
    ``if TYPE_CHECKING:``, which only feed the type checker."""
    found: list[tuple[ast.stmt, str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((child, alias.name, []) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child, child.module, [a.name for a in child.names]))
            visit(child)

    visit(tree)
    return found


def package_folder(package: str | os.PathLike[str]) -> Path:
    """A package's folder, from its name (found, not imported) or its path."""
    if not isinstance(package, str) or os.sep in package:
        return Path(package)
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin, f"no package named {package}"
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


def gateway_imports(package: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Every gateway module a package's code imports (its imports that run, in every file),
    with where: {"gateway.plugin": ["acme/__init__.py:3", ...]}."""
    folder = package_folder(package)
    files = [folder] if folder.is_file() else sorted(folder.rglob("*.py"))
    found: dict[str, list[str]] = {}
    for path in files:
        for stmt, target, _ in runtime_imports(ast.parse(path.read_text(), str(path))):
            if target == "gateway" or target.startswith("gateway."):
                where = f"{path.relative_to(folder.parent)}:{stmt.lineno}"
                found.setdefault(target, []).append(where)
    return found


def assert_public_imports(package: str | os.PathLike[str]) -> None:
    """A plugin's code imports nothing of the gateway but its public surface,
    ``gateway.plugin`` (names elsewhere may change between releases). `package` is the
    plugin's package name or folder; its tests (which may use gateway.testing) are not
    part of it."""
    beyond = {module: where for module, where in gateway_imports(package).items()
              if module not in PUBLIC}
    assert not beyond, "imports beyond gateway.plugin: " + "; ".join(
        f"{module} ({', '.join(where)})" for module, where in sorted(beyond.items()))
