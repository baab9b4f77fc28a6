"""create_app(settings) -> Starlette. The lifespan opens the store and loads the plugins."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Iterable

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from gateway import delivery, lifecycle, retention
from gateway.api import admin, scim
from gateway.api.http import ScimResponse
from gateway.clock import Clock
from gateway.core import Gateway
from gateway.plugins import make_plugin_manager
from gateway.scim.errors import ScimError
from gateway.scim.schema import default_registry
from gateway.settings import Settings
from gateway.store import open_store
from gateway.store.base import Migration, core_migrations

log = logging.getLogger("identity_gateway")


class PendingMigrations(RuntimeError):
    pass


def all_migrations(gw_pm: Any, dialect: str) -> list[Migration]:
    found = core_migrations(dialect)
    for batch in gw_pm.hook.migrations(dialect=dialect):
        found += list(batch or [])
    return found


def build_gateway(settings: Settings, clock: Clock | None = None,
                  plugins: Iterable[Any] = ()) -> Gateway:
    """Everything but the HTTP layer: used by the app and by the CLI."""
    pm = make_plugin_manager(settings.plugins, plugins)
    pm.hook.gateway_config(config=settings.config)
    registry = default_registry()
    pm.hook.register_schemas(registry=registry)
    return Gateway(settings, open_store(settings.database), pm, registry, clock or Clock())


async def open_gateway(gw: Gateway) -> None:
    """Open the store and make sure its schema is current (or refuse, unless migrate=True)."""
    await gw.store.open()
    wanted = all_migrations(gw.pm, gw.store.dialect)
    pending = await gw.store.pending(wanted)
    if pending and not gw.settings.migrate:
        await gw.store.close()
        names = ", ".join(f"{m.component} {m.version:04d}_{m.name}" for m in pending)
        raise PendingMigrations(
            f"the database has {len(pending)} unapplied migration(s) ({names}); run "
            "`identity-gateway migrate` or start with `serve --migrate`"
        )
    if pending:
        await gw.store.migrate(wanted)


async def not_found(request: Request, exc: Exception) -> Response:
    return ScimResponse(ScimError(404, f"No endpoint at {request.url.path}").body(),
                        status_code=404)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return ScimResponse(ScimError(405, f"{request.method} is not allowed on "
                                       f"{request.url.path}").body(), status_code=405)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return ScimResponse(ScimError(500, "Internal error; the change was not applied").body(),
                        status_code=500)


def create_app(settings: Settings, *, clock: Clock | None = None, plugins: Iterable[Any] = (),
               run_scheduler: bool = True) -> Starlette:
    gw = build_gateway(settings, clock, plugins)
    retention.retention_seconds(settings.sync_log_retention)  # a bad value stops startup
    extra_admin = [r for batch in gw.pm.hook.extra_routes() for r in (batch or [])]
    extra_provider = [r for batch in gw.pm.hook.provider_routes() for r in (batch or [])]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await open_gateway(gw)
        async with anyio.create_task_group() as tasks:
            if run_scheduler:
                tasks.start_soon(lifecycle.scheduler, gw)
            tasks.start_soon(delivery.run, gw)
            tasks.start_soon(retention.run, gw)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
        await gw.store.close()

    async def health(request: Request) -> Response:
        return Response('{"status":"ok"}', media_type="application/json")

    app = Starlette(
        routes=[
            Route("/healthz", health),
            Mount("/scim/v2/{provider}", routes=[*extra_provider, *scim.routes()]),
            Mount("/admin/v1", routes=admin.routes(extra_admin)),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error},
    )
    app.state.gateway = gw
    app.state.bulk_supported = True  # POST /Bulk (gateway.bulk), advertised by discovery
    return app
