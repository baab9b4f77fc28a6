"""`identity-gateway provider guard NAME [show|release|discard|set]`: a provider's
mass-deactivation guard, through the same functions as the admin API."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.accounts import guard, providers
from gateway.cli.common import common, print_json, run
from gateway.core import Gateway


def settings_body(args: argparse.Namespace) -> dict:
    body: dict[str, Any] = {}
    limits = {k: v for k, v in (("users", args.users), ("percent", args.percent))
              if v is not None}
    if limits:
        body["threshold"] = limits
    if args.window is not None:
        body["window"] = args.window
    if args.enabled is not None:
        body["enabled"] = args.enabled
    return body


def cmd_guard(args: argparse.Namespace) -> int:
    async def work(gw: Gateway) -> int:
        if args.guard_action == "show":
            async with gw.store.read() as conn:
                provider = await providers.resolve(conn, args.name)
                print_json(await guard.view(gw, conn, provider.id))
        elif args.guard_action == "set":
            print_json(await guard.configure(gw, args.name, settings_body(args)))
        elif args.guard_action == "held":
            print_json(await guard.held_list(gw, args.name, args.cursor, args.limit))
        else:
            end = guard.release if args.guard_action == "release" else guard.discard
            print_json(await end(gw, args.name))
        return 0

    return run(args, work)


def given_only(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--database and --config after the action too, without undoing those given before it
    (a subcommand's defaults would overwrite them)."""
    common(p)
    for action in p._actions:
        if action.dest in ("database", "config"):
            action.default = argparse.SUPPRESS
    return p


def add_command(actions: Any) -> None:
    """`provider guard` among the `provider` subcommands."""
    top = actions.add_parser(
        "guard", help="a provider's mass-deactivation guard: show, set, release, discard",
        description="Without an action, shows the guard. `release` lets the held "
                    "deactivations proceed (with the provider's delay); `discard` undoes them "
                    "(users restored to active and unblocked); both re-arm the guard.")
    top.add_argument("name", help="the provider's name or id")
    steps = top.add_subparsers(dest="guard_action")
    for name, text in (("show", "show the guard's state (the default)"),
                       ("release", "let every held deactivation proceed"),
                       ("discard", "undo every held deactivation")):
        given_only(steps.add_parser(name, help=text))
    held = given_only(steps.add_parser("held", help="list the held deactivations"))
    held.add_argument("--cursor", help="the next_cursor a previous page printed")
    held.add_argument("--limit", type=int, default=100, help="items per page (at most 1000)")
    change = given_only(steps.add_parser("set", help="change the threshold or window, or turn "
                                                 "the guard on or off"))
    change.add_argument("--users", type=int, help="more deactivations than this many users")
    change.add_argument("--percent", type=float,
                        help="... and more than this percent of the active users")
    change.add_argument("--window", help="within this long, e.g. 60m, 2h")
    on_off = change.add_mutually_exclusive_group()
    on_off.add_argument("--on", dest="enabled", action="store_const", const=True,
                        help="turn the guard on (its window starts empty)")
    on_off.add_argument("--off", dest="enabled", action="store_const", const=False,
                        help="turn the guard off (refused while it holds deactivations)")
    common(top)
    top.set_defaults(func=cmd_guard, guard_action="show")
