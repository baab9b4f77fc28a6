"""create_app(settings) -> Starlette. The lifespan opens the store, applies or checks
migrations, and runs the background loops (scheduler, webhook delivery, retention)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from gateway.accounts import auth_failures, scheduler, sso
from gateway.accounts.credentials import BuiltinAuth
from gateway.api import probes, scim
from gateway.api.admin.routes import routes as admin_routes
from gateway.api.http import admin_error_response, error_response
from gateway.clock import Clock
from gateway.console import auth as console_auth
from gateway.console import routes as console
from gateway.core import Gateway
from gateway.errors import GatewayError
from gateway.events import retention, webhook_delivery, webhook_secrets
from gateway.hooks import Hooks, describe, make_plugin_manager
from gateway.observability import activity, flush_calls
from gateway.observability.middleware import Observe, request_info
from gateway.scim.schema import default_registry
from gateway.settings import Settings
from gateway.store import admins as admin_tables
from gateway.store import open_store
from gateway.store.base import Migration, core_migrations

log = logging.getLogger("identity_gateway")
ADMIN_PREFIX = "/admin/"
CONSOLE_PREFIX = "/console"


class PendingMigrations(GatewayError):
    status = 503


async def all_migrations(gw: Gateway) -> list[Migration]:
    found = core_migrations(gw.store.dialect) + admin_tables.migrations(gw.store.dialect)
    for batch in await gw.hooks.call("migrations", dialect=gw.store.dialect):
        found += list(batch)
    return found


def build_gateway(settings: Settings, clock: Clock | None = None,
                  plugins: Iterable[object] | Mapping[str, object] = ()) -> Gateway:
    """Everything but the HTTP layer: used by the app and by the CLI."""
    pm = make_plugin_manager(settings.plugins, plugins, builtins={"builtin_auth": BuiltinAuth()})
    hooks = Hooks(pm, trace=settings.trace_hooks)
    hooks.call_sync("gateway_config", config=settings.config)
    registry = default_registry()
    hooks.call_sync("register_schemas", registry=registry)
    store = open_store(settings.database, settings.sqlite_synchronous,
                       shared=(settings.workers or 1) > 1)
    return Gateway(settings, store, pm, registry, clock or Clock())


async def open_gateway(gw: Gateway) -> None:
    """Open the store and make sure its schema is current (or refuse, unless migrate=True).

    Whatever fails after the store opened closes it again: an open SQLite store holds
    threads that would keep the process alive."""
    await gw.store.open()
    try:
        wanted = await all_migrations(gw)
        pending = await gw.store.pending(wanted)
        if pending and not gw.settings.migrate:
            names = ", ".join(f"{m.component} {m.version:04d}_{m.name}" for m in pending)
            raise PendingMigrations(
                f"the database has {len(pending)} unapplied migration(s) ({names}); run "
                "`identity-gateway migrate` or start with `serve --migrate`"
            )
        if pending:
            await gw.store.migrate(wanted)
    except BaseException:
        await gw.store.close()
        raise


@asynccontextmanager
async def opened(gw: Gateway) -> AsyncIterator[Gateway]:
    """The gateway with its store open, closed again however the block ends."""
    await open_gateway(gw)
    try:
        yield gw
    finally:
        with anyio.CancelScope(shield=True):
            await gw.store.close()


def refusal(request: Request, error: GatewayError) -> Response:
    """An error the router or an unexpected failure produced, in the shape of the API the
    path belongs to."""
    request_info(request.scope).error = error.detail
    if request.url.path.startswith(ADMIN_PREFIX):
        return admin_error_response(error)
    if request.url.path.startswith(CONSOLE_PREFIX):
        return console_auth.plain_error(error)
    return error_response(error)


async def not_found(request: Request, exc: Exception) -> Response:
    return refusal(request, GatewayError(f"No endpoint at {request.url.path}", 404))


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return refusal(request, GatewayError(
        f"{request.method} is not allowed on {request.url.path}", 405))


async def refused(request: Request, exc: Exception) -> Response:
    """A refusal that escaped its route's own handling (a body over the limit while a
    console form is read, for example): its status, in its API's shape."""
    assert isinstance(exc, GatewayError)
    return refusal(request, exc)


async def server_error(request: Request, exc: Exception) -> Response:
    info = request_info(request.scope)
    log.exception("unhandled error on %s %s", request.method, request.url.path,
                  extra={"request_id": info.request_id, "trace_id": info.trace.trace_id})
    return refusal(request, GatewayError("Internal error; the change was not applied", 500))


def create_app(settings: Settings, *, clock: Clock | None = None,
               plugins: Iterable[object] | Mapping[str, object] = (),
               run_scheduler: bool = True) -> Starlette:
    gw = build_gateway(settings, clock, plugins)
    retention.retention_seconds(settings.sync_log_retention)  # a bad value stops startup
    auth_failures.retention_seconds(settings)
    extra_admin = [r for batch in gw.hooks.call_sync("extra_routes") for r in batch]
    extra_provider = [r for batch in gw.hooks.call_sync("provider_routes") for r in batch]
    console_state, console_mount = console.mount(gw)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with opened(gw):
            await webhook_secrets.check_at_startup(gw)
            # What a start says once is said by the first of serve's workers only.
            first = gw.settings.worker_slot == 0
            async with anyio.create_task_group() as tasks:
                for plugin in describe(gw.pm) if first else []:
                    log.info("plugin %s %s: %s", plugin["name"], plugin["version"] or "-",
                             ", ".join(plugin["hooks"]))
                if run_scheduler:
                    tasks.start_soon(scheduler.scheduler, gw)
                tasks.start_soon(webhook_delivery.run, gw)
                tasks.start_soon(retention.run, gw)
                tasks.start_soon(auth_failures.run, gw)
                tasks.start_soon(activity.run, gw)
                if gw.flush_calls is not None:  # serve's workers: flush when a reader asks
                    tasks.start_soon(flush_calls.answer, gw, (activity.flush,
                                                              auth_failures.flush))
                tasks.start_soon(sso.probe, gw, first)
                try:
                    yield
                finally:
                    tasks.cancel_scope.cancel()

    routes: list[BaseRoute] = [
        Route("/healthz", probes.healthz),
        Route("/readyz", probes.readyz(all_migrations)),
        Route("/metrics", probes.metrics),
        Mount("/scim/v2/{provider}", routes=[*extra_provider, *scim.routes()]),
        Mount("/admin/v1", routes=admin_routes(extra_admin)),
        console_mount,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Observe, gw=gw, routes=routes)],
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error,
                            GatewayError: refused},
    )
    app.state.gateway = gw
    app.state.console = console_state
    app.state.bulk_supported = True  # POST /Bulk (gateway.provisioning.bulk), advertised
    return app
