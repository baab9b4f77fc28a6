"""`identity-gateway provider add|list|show|connection|set|rotate|remove|guard|attributes` and
`admin-token rotate`.

Every command that names a provider takes its name (in any case) or its id."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.accounts import providers
from gateway.cli import custom_attributes, guard
from gateway.cli.common import common, print_json, print_lines, print_table, run
from gateway.core import Gateway
from gateway.store import providers as queries


def cmd_provider(args: argparse.Namespace) -> int:
    async def add(gw: Gateway) -> int:
        settings = {}
        if args.deactivation_delay:
            settings["deactivation_delay"] = args.deactivation_delay
        if args.block_during_delay is not None:
            settings["block_during_delay"] = args.block_during_delay == "on"
        if args.undeclared_attributes is not None:
            settings["undeclared_attributes"] = args.undeclared_attributes
        if args.unique_group_names is not None:
            settings["unique_group_names"] = args.unique_group_names == "on"
        provider, shown = await providers.create_provider(gw, args.name, args.auth,
                                                          args.plugin, settings)
        print(f"SCIM base URL: {gw.base_url(provider.id)}")
        print_lines(shown)
        return 0

    async def listing(gw: Gateway) -> int:
        rows = []
        async with gw.store.read() as conn:
            for p in await queries.list_providers(conn):
                view = providers.provider_view(gw, p)
                state = (await providers.connection(gw, p, conn))["state"]
                rows.append([p.name, p.id, p.auth_kind, p.plugin, state,
                             view["deactivation_delay"],
                             "on" if view["block_during_delay"] else "off", view["base_url"]])
        print_table(["NAME", "ID", "AUTH", "PLUGIN", "STATE", "DEACTIVATION_DELAY",
                     "BLOCK_DURING_DELAY", "BASE_URL"], rows,
                    "no providers yet: `identity-gateway provider add NAME`")
        return 0

    async def show(gw: Gateway) -> int:
        async with gw.store.read() as conn:
            provider = await providers.resolve(conn, args.name)
            print_json(await providers.provider_details(gw, conn, provider))
        return 0

    async def connected(gw: Gateway) -> int:
        async with gw.store.read() as conn:
            provider = await providers.resolve(conn, args.name)
            found = await providers.connection(gw, provider, conn)
        if args.json:
            print_json(found)
        else:
            print(found["summary"])
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
        if args.rename is not None:
            changes["name"] = args.rename
        if args.block_during_delay is not None:
            changes["block_during_delay"] = args.block_during_delay == "on"
        if args.undeclared_attributes is not None:
            changes["undeclared_attributes"] = args.undeclared_attributes
        if args.unique_group_names is not None:
            changes["unique_group_names"] = args.unique_group_names == "on"
        provider = await providers.update_provider(gw, args.name, changes)
        print_json(providers.provider_view(gw, provider))
        return 0

    async def remove(gw: Gateway) -> int:
        provider = await providers.delete_provider(gw, args.name)
        print(f"removed provider {provider.name} ({provider.id})")
        return 0

    work = {"add": add, "list": listing, "show": show, "connection": connected,
            "rotate": rotate, "set": change, "remove": remove}[args.action]
    return run(args, work)


def cmd_admin_token(args: argparse.Namespace) -> int:
    async def rotate(gw: Gateway) -> int:
        print(f"Admin token: {await providers.create_admin_token(gw)}")
        return 0

    return run(args, rotate)


UNDECLARED_HELP = ("attributes the IdP sends that are not declared (`provider attributes`): "
                   "keep them as sent, or refuse the request with 400")
UNIQUE_HELP = ("refuse a group name another group of the provider has, ignoring case "
               "(409 uniqueness)")


def add_commands(sub: Any) -> None:
    prov = sub.add_parser("provider", help="manage provisioning providers")
    actions = prov.add_subparsers(dest="action", required=True)
    add = common(actions.add_parser("add", help="add a provider; prints its credential once"))
    add.add_argument("name", help="the provider's display name")
    add.add_argument("--auth", default="bearer",
                     help="credential kind: bearer (default), basic, or a plugin's kind "
                          "(`identity-gateway plugins` lists them)")
    add.add_argument("--plugin", help="the provider's IdP plugin (a name from [plugins] enabled)")
    add.add_argument("--deactivation-delay", help="how long a deactivation waits, e.g. 15m, "
                                                  "30s, 0s (default 15m)")
    add.add_argument("--block-during-delay", choices=("on", "off"),
                     help="block a user as soon as the provider deactivates it (default on)")
    add.add_argument("--undeclared-attributes", choices=("keep", "refuse"),
                     help=UNDECLARED_HELP + " (default keep)")
    add.add_argument("--unique-group-names", choices=("on", "off"), help=UNIQUE_HELP
                     + " (default: off, unless the provider's plugin turns it on)")
    common(actions.add_parser("list", help="list providers, with whether each one's IdP "
                                           "is connected (STATE: waiting, refused, connected)"))
    show = common(actions.add_parser("show", help="one provider's settings, base URL, what it "
                                                  "owns and its connection state (JSON)"))
    show.add_argument("name", help="the provider's name or id")
    link = common(actions.add_parser(
        "connection", help="whether the provider's IdP has reached the gateway with its "
                           "current credential: waiting, refused (how many, why) or connected "
                           "(with what request, when)"))
    link.add_argument("name", help="the provider's name or id")
    link.add_argument("--json", action="store_true", help="print JSON")
    rot = common(actions.add_parser("rotate", help="replace a provider's credential (the old "
                                                   "one stops at once); prints the new one"))
    rot.add_argument("name", help="the provider's name or id")
    chg = common(actions.add_parser("set", help="change a provider's settings"))
    chg.add_argument("name", help="the provider's name or id")
    chg.add_argument("--deactivation-delay", help="e.g. 15m, 30s, 0s")
    chg.add_argument("--plugin", help="the provider's IdP plugin ('' for none)")
    chg.add_argument("--rename", help="a new display name")
    chg.add_argument("--block-during-delay", choices=("on", "off"),
                     help="block a user as soon as the provider deactivates it")
    chg.add_argument("--undeclared-attributes", choices=("keep", "refuse"),
                     help=UNDECLARED_HELP)
    chg.add_argument("--unique-group-names", choices=("on", "off"), help=UNIQUE_HELP)
    rem = common(actions.add_parser("remove", help="remove a provider that owns no users or "
                                                   "groups (unassign them in the IdP first)"))
    rem.add_argument("name", help="the provider's name or id")
    guard.add_command(actions)
    custom_attributes.add_command(actions)
    prov.set_defaults(func=cmd_provider)

    tok = sub.add_parser("admin-token", help="the admin API's bearer token")
    tok_actions = tok.add_subparsers(dest="action", required=True)
    common(tok_actions.add_parser("rotate", help="issue a new admin token (old ones stop)"))
    tok.set_defaults(func=cmd_admin_token)
