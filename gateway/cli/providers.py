"""`identity-gateway provider add|list|rotate|set|guard` and `admin-token rotate`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gateway.accounts import providers
from gateway.cli import guard
from gateway.cli.common import common, print_lines, run
from gateway.core import Gateway
from gateway.store import providers as queries


def cmd_provider(args: argparse.Namespace) -> int:
    async def add(gw: Gateway) -> int:
        settings = {}
        if args.deactivation_delay:
            settings["deactivation_delay"] = args.deactivation_delay
        if args.block_during_delay is not None:
            settings["block_during_delay"] = args.block_during_delay == "on"
        provider, shown = await providers.create_provider(gw, args.name, args.auth,
                                                          args.plugin, settings)
        print(f"SCIM base URL: {gw.base_url(provider.id)}")
        print_lines(shown)
        return 0

    async def listing(gw: Gateway) -> int:
        async with gw.store.read() as conn:
            found = await queries.list_providers(conn)
        for p in found:
            view = providers.provider_view(gw, p)
            print(f"{p.name}\t{p.id}\tauth={p.auth_kind}\tplugin={p.plugin or '-'}"
                  f"\tdeactivation_delay={view['deactivation_delay']}"
                  f"\tblock_during_delay={'on' if view['block_during_delay'] else 'off'}"
                  f"\t{view['base_url']}")
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
        if args.block_during_delay is not None:
            changes["block_during_delay"] = args.block_during_delay == "on"
        provider = await providers.update_provider(gw, args.name, changes)
        print(json.dumps(providers.provider_view(gw, provider), indent=2))
        return 0

    work = {"add": add, "list": listing, "rotate": rotate, "set": change}[args.action]
    return run(args, work)


def cmd_admin_token(args: argparse.Namespace) -> int:
    async def rotate(gw: Gateway) -> int:
        print(f"Admin token: {await providers.create_admin_token(gw)}")
        return 0

    return run(args, rotate)


def add_commands(sub: Any) -> None:
    prov = sub.add_parser("provider", help="manage provisioning providers")
    actions = prov.add_subparsers(dest="action", required=True)
    add = common(actions.add_parser("add", help="add a provider; prints its credential once"))
    add.add_argument("name", help="the provider's display name")
    add.add_argument("--auth", default="bearer", help="bearer, basic, or a plugin's kind")
    add.add_argument("--plugin", help="the provider's IdP plugin (a name from [plugins] enabled)")
    add.add_argument("--deactivation-delay", help="e.g. 15m, 30s, 0s")
    add.add_argument("--block-during-delay", choices=("on", "off"),
                     help="block a user as soon as the provider deactivates it (default on)")
    common(actions.add_parser("list", help="list providers"))
    rot = common(actions.add_parser("rotate", help="replace a provider's credential"))
    rot.add_argument("name", help="the provider's name or id")
    chg = common(actions.add_parser("set", help="change a provider's settings"))
    chg.add_argument("name", help="the provider's name or id")
    chg.add_argument("--deactivation-delay", help="e.g. 15m, 30s, 0s")
    chg.add_argument("--plugin", help="the provider's IdP plugin ('' for none)")
    chg.add_argument("--block-during-delay", choices=("on", "off"),
                     help="block a user as soon as the provider deactivates it")
    guard.add_command(actions)
    prov.set_defaults(func=cmd_provider)

    tok = sub.add_parser("admin-token", help="admin token")
    tok_actions = tok.add_subparsers(dest="action", required=True)
    common(tok_actions.add_parser("rotate", help="issue a new admin token (old ones stop)"))
    tok.set_defaults(func=cmd_admin_token)
