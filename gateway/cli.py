"""`identity-gateway serve | migrate | provider add/list/rotate/set | admin-token | synclog`."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from typing import Any, Awaitable, Callable

from gateway import providers
from gateway.app import PendingMigrations, build_gateway, create_app, open_gateway
from gateway.core import Gateway
from gateway.plugins import UnknownPlugin
from gateway.settings import load_settings
from gateway.store import providers as provider_queries


def settings_from(args: argparse.Namespace, **extra: Any):
    return load_settings(getattr(args, "config", None), database=getattr(args, "database", None),
                         host=getattr(args, "host", None), port=getattr(args, "port", None),
                         **extra)


async def with_gateway(args: argparse.Namespace,
                       work: Callable[[Gateway], Awaitable[int]], migrate: bool = False) -> int:
    gw = build_gateway(settings_from(args, migrate=migrate or None))
    await open_gateway(gw)
    try:
        return await work(gw)
    finally:
        await gw.store.close()


def print_lines(lines: list[tuple[str, str]]) -> None:
    for label, value in lines:
        print(f"{label}: {value}")


async def bootstrap(gw: Gateway) -> int:
    """First start: an admin token and a provider named `default`, shown once."""
    if not await providers.has_admin(gw):
        async with gw.store.read() as conn:
            existing = await provider_queries.find_provider(conn, "default")
        if existing is None:
            provider, shown = await providers.create_provider(gw, "default", "bearer")
        else:
            provider, shown = await providers.rotate_provider(gw, "default")
        admin_token = await providers.create_admin_token(gw)
        print(f"SCIM base URL: {gw.base_url(provider.id)}")
        print_lines(shown)
        print(f"Admin token: {admin_token}")
        sys.stdout.flush()
        return 0
    async with gw.store.read() as conn:
        found = await provider_queries.list_providers(conn)
    for provider in found:
        print(f"SCIM base URL: {gw.base_url(provider.id)}  ({provider.name})")
    print("Secrets are shown only when created. To issue new ones: "
          "`identity-gateway provider rotate NAME`, `identity-gateway admin-token rotate`.")
    sys.stdout.flush()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = settings_from(args, migrate=args.migrate or None)
    try:
        asyncio.run(with_gateway(args, bootstrap, migrate=settings.migrate))
    except PendingMigrations as exc:
        print(f"identity-gateway: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level,
                workers=1)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from gateway.app import all_migrations

    async def run() -> int:
        gw = build_gateway(settings_from(args))
        await gw.store.open()
        try:
            applied = await gw.store.migrate(all_migrations(gw.pm, gw.store.dialect))
        finally:
            await gw.store.close()
        for m in applied:
            print(f"applied {m.component} {m.version:04d}_{m.name}")
        if not applied:
            print("the database is up to date")
        return 0

    return asyncio.run(run())


def cmd_provider(args: argparse.Namespace) -> int:
    async def add(gw: Gateway) -> int:
        settings = {}
        if args.deactivation_delay:
            settings["deactivation_delay"] = args.deactivation_delay
        provider, shown = await providers.create_provider(gw, args.name, args.auth,
                                                          args.plugin, settings)
        print(f"SCIM base URL: {gw.base_url(provider.id)}")
        print_lines(shown)
        return 0

    async def listing(gw: Gateway) -> int:
        async with gw.store.read() as conn:
            found = await provider_queries.list_providers(conn)
        for p in found:
            view = providers.provider_view(gw, p)
            print(f"{p.name}\t{p.id}\tauth={p.auth_kind}\tplugin={p.plugin or '-'}"
                  f"\tdeactivation_delay={view['deactivation_delay']}\t{view['base_url']}")
        return 0

    async def rotate(gw: Gateway) -> int:
        provider, shown = await providers.rotate_provider(gw, args.name)
        print(f"SCIM base URL: {gw.base_url(provider.id)}")
        print_lines(shown)
        return 0

    async def change(gw: Gateway) -> int:
        changes: dict[str, Any] = {}
        if args.deactivation_delay is not None:
            changes["deactivation_delay"] = args.deactivation_delay
        if args.plugin is not None:
            changes["plugin"] = args.plugin or None
        provider = await providers.update_provider(gw, args.name, changes)
        print(json.dumps(providers.provider_view(gw, provider), indent=2))
        return 0

    work = {"add": add, "list": listing, "rotate": rotate, "set": change}[args.action]
    return asyncio.run(with_gateway(args, work))


def cmd_admin_token(args: argparse.Namespace) -> int:
    async def rotate(gw: Gateway) -> int:
        print(f"Admin token: {await providers.create_admin_token(gw)}")
        return 0

    return asyncio.run(with_gateway(args, rotate))


def cmd_synclog(args: argparse.Namespace) -> int:
    from gateway import synclog

    async def show(gw: Gateway) -> int:
        filters = dict(provider=args.provider, user=args.user, operation=args.operation,
                       outcome=args.outcome, since=args.since, until=args.until)
        page = await synclog.query(gw, limit=args.limit, **filters)
        items = list(reversed(page["items"]))
        writer = csv.writer(sys.stdout) if args.format == "csv" else None
        if writer:
            writer.writerow(synclog.CSV_COLUMNS)
        last = 0
        deadline = time.monotonic() + args.follow_seconds if args.follow else 0
        while True:
            for item in items:
                last = max(last, item["seq"])
                synclog.print_entry(item, args.format, writer)
            sys.stdout.flush()
            if not args.follow or time.monotonic() > deadline:
                return 0
            await asyncio.sleep(1.0)
            items = await synclog.entries_after(gw, last, **filters)

    return asyncio.run(with_gateway(args, show))


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="identity-gateway", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--database", help="SQLite file or postgresql:// URL (env DATABASE)")
        p.add_argument("--config", help="config file (default identity-gateway.toml)")
        return p

    serve = common(sub.add_parser("serve", help="run the gateway"))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--migrate", action="store_true",
                       help="apply pending database migrations before starting")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    common(sub.add_parser("migrate", help="apply database migrations")).set_defaults(
        func=cmd_migrate)

    prov = sub.add_parser("provider", help="manage provisioning providers")
    actions = prov.add_subparsers(dest="action", required=True)
    add = common(actions.add_parser("add", help="add a provider; prints its credential once"))
    add.add_argument("name")
    add.add_argument("--auth", default="bearer", help="bearer, basic, or a plugin's kind")
    add.add_argument("--plugin", help="the provider's IdP plugin (e.g. entra, okta)")
    add.add_argument("--deactivation-delay", help="e.g. 15m, 30s, 0s")
    common(actions.add_parser("list", help="list providers"))
    rot = common(actions.add_parser("rotate", help="replace a provider's credential"))
    rot.add_argument("name")
    chg = common(actions.add_parser("set", help="change a provider's settings"))
    chg.add_argument("name")
    chg.add_argument("--deactivation-delay")
    chg.add_argument("--plugin")
    prov.set_defaults(func=cmd_provider)

    tok = sub.add_parser("admin-token", help="admin token")
    tok_actions = tok.add_subparsers(dest="action", required=True)
    common(tok_actions.add_parser("rotate", help="issue a new admin token (old ones stop)"))
    tok.set_defaults(func=cmd_admin_token)

    log = common(sub.add_parser("synclog", help="show the newest sync-log entries"))
    log.add_argument("--provider")
    log.add_argument("--user")
    log.add_argument("--operation")
    log.add_argument("--outcome")
    log.add_argument("--since")
    log.add_argument("--until")
    log.add_argument("--limit", type=int, default=20)
    log.add_argument("--format", choices=["text", "json", "csv"], default="text")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new entries")
    log.add_argument("--follow-seconds", type=float, default=3600.0,
                     help="stop following after this long")
    log.set_defaults(func=cmd_synclog)

    from gateway import cli_events, cli_users

    cli_users.add_user_commands(sub, common)
    cli_events.add_commands(sub, common)
    cli_users.add_plugin_commands(sub, common, argv)
    return top


def cmd_gateway(args: argparse.Namespace) -> int:
    """A command that runs with the Gateway open (users, plugins' commands)."""
    return asyncio.run(with_gateway(args, lambda gw: args.gateway_command(gw, args)))


def main(argv: list[str] | None = None) -> int:
    args = parser(argv).parse_args(argv)
    try:
        if getattr(args, "gateway_command", None):
            return cmd_gateway(args)
        return args.func(args)
    except (providers.ProviderError, UnknownPlugin, PendingMigrations) as exc:
        print(f"identity-gateway: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
