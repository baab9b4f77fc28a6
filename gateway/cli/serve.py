"""`identity-gateway serve` (with the first-start bootstrap) and `migrate`."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

from gateway.accounts import admins, providers
from gateway.app import all_migrations, build_gateway, create_app
from gateway.cli.common import common, settings_from, with_gateway
from gateway.cli.workers import Supervisor, die_with_supervisor
from gateway.core import Gateway
from gateway.events import webhook_secrets
from gateway.observability import logs
from gateway.settings import ConfigError, Settings, per_worker
from gateway.store import providers as queries


async def bootstrap(gw: Gateway) -> int:
    """First start: an admin token and a provider named `default`, shown once. (Any start:
    a database this process cannot write, or webhooks whose secrets no key can read, stop it
    here, in one line; a start without a key makes the key file and says where, once.)"""
    await gw.store.check_writable()
    key_file = await first_key(gw)
    await webhook_secrets.check_at_startup(gw)
    if not await providers.has_admin(gw):
        async with gw.store.read() as conn:
            existing = await queries.find_provider(conn, "default")
        if existing is None:
            provider, shown = await providers.create_provider(gw, "default", "bearer")
        else:
            provider, shown = await providers.rotate_provider(gw, "default")
        admin_token = await providers.create_admin_token(gw)
        print(f"SCIM base URL: {gw.base_url(provider.id)}")
        for label, value in shown:
            print(f"{label}: {value}")
        print(f"Admin token: {admin_token}")
        await first_account(gw)
        made_key(key_file)
        sys.stdout.flush()
        return 0
    async with gw.store.read() as conn:
        found = await queries.list_providers(conn)
    for provider in found:
        print(f"SCIM base URL: {gw.base_url(provider.id)}  ({provider.name})")
    print("Secrets are shown only when created. To issue new ones: "
          "`identity-gateway provider rotate NAME`, `identity-gateway admin-token rotate`.")
    await first_account(gw)
    made_key(key_file)
    sys.stdout.flush()
    return 0


async def first_key(gw: Gateway) -> Path | None:
    """The key file a start without a key makes; one line on standard error if it cannot
    (the gateway runs on, refusing new webhooks until it has a key)."""
    try:
        return await webhook_secrets.first_key(gw)
    except OSError as exc:
        print(f"identity-gateway: warning: cannot create the webhook secret key file "
              f"{gw.settings.secret_keys_file} ({exc.strerror or exc}): registering a webhook "
              f"is refused until {webhook_secrets.KEYS_VARIABLE} or [gateway] secret_keys_file "
              "gives a key (docs/deploy.md, 'Webhook secret keys')", file=sys.stderr)
        return None


def made_key(path: Path | None) -> None:
    if path is not None:
        print(f"Webhook secret key file: {path} (made now, readable by this account only; it "
              "decrypts the webhook secrets in the database: back it up, apart from the "
              "database)")


async def first_account(gw: Gateway) -> None:
    """The console's address; on a database without console accounts, an account `admin`
    whose generated password is shown this once (only its argon2 hash is kept)."""
    print(f"Console URL: {gw.settings.public_url}/console")
    if not await admins.has_accounts(gw):
        _, password = await admins.add_admin(gw, "admin", admins.ADMIN)
        print(f"Console password: {password}")


def cmd_serve(args: argparse.Namespace) -> int:
    """Check everything that can fail before the first start prints its one-time secrets:
    the config, the plugins (and their config sections), the listening socket; then open
    the store (migrations), bootstrap, and serve on the socket already bound: in this
    process with one worker, else in worker processes this one watches."""
    settings = settings_from(args, migrate=args.migrate or None,
                             log_format=args.log_format, trace_hooks=args.trace_hooks or None,
                             workers=args.workers)
    fmt = settings.log_format or logs.default_format(sys.stdout)
    if args.worker_socket is not None:
        return serve_worker(args, settings, fmt)
    workers = settings.process_count
    app = create_app(per_worker(settings, workers))  # with workers, only checked here
    socks = listen_each(settings.host, settings.port, workers)
    try:
        warn_unreachable(settings)
        asyncio.run(with_gateway(args, bootstrap, settings=settings))
        logs.configure(fmt, args.log_level)
        if workers > 1:
            return Supervisor(socks, workers, args.argv, settings.shutdown_timeout).run()
        run_server(app, socks[0], settings, args.log_level)
    finally:
        for sock in socks:
            sock.close()
    return 0


def serve_worker(args: argparse.Namespace, settings: Settings, fmt: str) -> int:
    """One of serve's worker processes, on the socket its serve bound and handed down."""
    die_with_supervisor()
    shared = per_worker(settings, settings.process_count, args.worker_dir, args.worker_slot)
    app = create_app(shared)
    logs.configure(fmt, args.log_level)
    sock = socket.socket(fileno=args.worker_socket)
    try:
        run_server(app, sock, shared, args.log_level)
    finally:
        sock.close()
    return 0


def run_server(app: Any, sock: socket.socket, settings: Settings, log_level: str) -> None:
    """uvicorn on a socket already bound. Its own logging setup and access log give way to
    the gateway's (one format for every line, the middleware's request line instead of
    uvicorn's)."""
    import uvicorn  # lazy: only serve needs the server; every other command starts faster

    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, workers=1,
                                           log_config=None, access_log=False,
                                           **server_options(settings)))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it shut down for
        pass


def listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """The listening socket, bound before anything is printed. Made with IPPROTO_TCP, as
    uvicorn makes its own: asyncio sets TCP_NODELAY only on connections accepted from such a
    socket, and without it Nagle's algorithm and delayed ACKs add ~40 ms to every answer on
    a kept-alive connection."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def listen_each(host: str, port: int, workers: int) -> list[socket.socket]:
    """The listening sockets of `workers` workers: one, or on Linux one per worker, all on
    the port with SO_REUSEPORT, so that the kernel spreads new connections evenly over
    them (a hash of each connection's addresses and ports). On one shared socket the worker
    that wakes first accepts every connection waiting, and a burst of them lands on one
    worker. A socket without SO_REUSEPORT is bound first and closed just before: another
    process on the port (another serve among them) stops this one, as it would without
    workers, instead of sharing the port."""
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        return [listen(host, port)]
    listen(host, port).close()
    socks: list[socket.socket] = []
    try:
        for _ in range(workers):
            socks.append(listen(host, port, reuse_port=True))
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def warn_unreachable(settings: Settings) -> None:
    """Listening on every interface without a public URL prints URLs nobody can use."""
    if settings.base_url is None and settings.host in ("0.0.0.0", "::", ""):
        print(f"identity-gateway: warning: listening on {settings.host or 'all interfaces'} "
              f"without base_url: the URLs printed below ({settings.public_url}/...) are not "
              "reachable from other machines; set [gateway] base_url or GATEWAY_BASE_URL to "
              "the URL the IdPs use (see docs/deploy.md)", file=sys.stderr)


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options from ``[gateway]``: the stack (httptools on uvloop, with the
    gateway's guards: deadlines, the header size, the connection limits), how long a SIGTERM
    waits for requests in flight, and which proxies may name the client address."""
    from gateway.api.connections import protocol_for  # lazy: it imports uvicorn, like serve

    return {
        "http": protocol_for(settings.header_timeout, settings.body_timeout,
                             settings.max_header_bytes, settings.max_connections,
                             settings.max_connections_per_client),
        "loop": "uvloop",
        # No WebSocket routes; an upgraded connection would also leave the count of its
        # client address behind.
        "ws": "none",
        "timeout_keep_alive": settings.keep_alive_timeout,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }


def cmd_migrate(args: argparse.Namespace) -> int:
    async def run() -> int:
        gw = build_gateway(settings_from(args))
        await gw.store.open()
        try:
            applied = await gw.store.migrate(await all_migrations(gw))
        finally:
            await gw.store.close()
        for m in applied:
            print(f"applied {m.component} {m.version:04d}_{m.name}")
        if not applied:
            print("the database is up to date")
        return 0

    return asyncio.run(run())


def add_commands(sub: Any) -> None:
    serve = common(sub.add_parser("serve", help="run the gateway"))
    serve.add_argument("--host", help="address to listen on (env HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (env PORT; default 8080)")
    serve.add_argument("--migrate", action="store_true",
                       help="apply pending database migrations before starting")
    serve.add_argument("--workers", type=int, metavar="N",
                       help="worker processes answering on the port (env "
                            "IDENTITY_GATEWAY_WORKERS, config workers; default: one per core)")
    serve.add_argument("--worker-socket", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--worker-dir", help=argparse.SUPPRESS)
    serve.add_argument("--worker-slot", type=int, default=0, help=argparse.SUPPRESS)
    serve.add_argument("--log-level", default="info",
                       help="log level: critical, error, warning, info (a line per request), "
                            "debug")
    serve.add_argument("--log-format", choices=logs.FORMATS,
                       help="json (one object per line) or text (config log_format; default: "
                            "json unless standard output is a terminal)")
    serve.add_argument("--trace-hooks", action="store_true",
                       help="log every call of a plugin's hook: its plugin, its arguments "
                            "summarised, its duration (env IDENTITY_GATEWAY_TRACE_HOOKS=1)")
    serve.set_defaults(func=cmd_serve)

    common(sub.add_parser("migrate", help="apply database migrations")).set_defaults(
        func=cmd_migrate)
