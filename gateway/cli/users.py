"""`identity-gateway user list|show|create|block|unblock|deactivate|reactivate`.

Each command runs with the Gateway open on the configured database and calls the same code
as the admin API. Plugins add columns to `user list` through the `user_columns` hook.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio

from gateway.accounts import actions, users
from gateway.cli.common import common, fail, print_json, print_table
from gateway.core import Gateway
from gateway.provisioning.local import create_local


def user_row(view: dict, columns: list) -> list:
    """ID, STATE, DUE, the plugins' columns, SOURCE, USERNAME."""
    profile = view.get("profile") or {}
    name = profile.get("username") or profile.get("email")
    return [view["id"], view["state"], view.get("deactivate_at"),
            *(c.value(view) for c in columns), view["source"], name]


def user_headers(columns: list) -> list[str]:
    return ["ID", "STATE", "DUE", *(c.header.upper() for c in columns), "SOURCE", "USERNAME"]


def user_line(view: dict, columns: list) -> str:
    return "\t".join("-" if v in (None, "") else str(v) for v in user_row(view, columns))


def plugin_columns(gw: Gateway) -> list:
    return [column for batch in gw.hooks.call_sync("user_columns") for column in batch]


async def user_list(gw: Gateway, args: argparse.Namespace) -> int:
    page = await users.list_users(gw, provider=args.provider, state=args.state, q=args.q,
                                  cursor=args.cursor, limit=args.limit)
    if args.json:
        print_json(page)
        return 0
    columns = plugin_columns(gw)
    print_table(user_headers(columns), [user_row(v, columns) for v in page["items"]],
                "no users match")
    if page["next_cursor"]:
        print(f"more: --cursor {page['next_cursor']}", file=sys.stderr)
    return 0


async def user_show(gw: Gateway, args: argparse.Namespace) -> int:
    view = await users.user_view(gw, args.id)
    if view is None:
        return fail(f"no user '{args.id}'", 1)
    print_json(view)
    return 0


async def user_create(gw: Gateway, args: argparse.Namespace) -> int:
    """A local user from a SCIM User body (a file, or - for stdin)."""
    text = sys.stdin.read() if args.file == "-" else \
        await anyio.Path(args.file).read_text("utf-8")
    try:
        body = json.loads(text)
    except ValueError as exc:
        return fail(f"{args.file} is not JSON: {exc}")
    print_json(await create_local(gw, body))
    return 0


async def user_action(gw: Gateway, args: argparse.Namespace) -> int:
    view = await actions.admin_action(gw, args.id, args.action, reason=args.reason)
    if view is None:
        return fail(f"no user '{args.id}'", 1)
    print(user_line(view, plugin_columns(gw)))
    return 0


def add_commands(sub: Any) -> None:
    user = sub.add_parser("user", help="users: list, show, create local, block, deactivate")
    commands = user.add_subparsers(dest="action", required=True)
    listing = common(commands.add_parser("list", help="list users"))
    listing.add_argument("--provider", help="a provider's name or id, or 'local'")
    listing.add_argument("--state", help="active, pending_deactivation, deactivated, blocked")
    listing.add_argument("--q", help="part of a userName or displayName")
    listing.add_argument("--cursor", help="the cursor a previous page printed")
    listing.add_argument("--limit", type=int, default=100, help="users per page (at most 1000)")
    listing.add_argument("--json", action="store_true", help="print the page as JSON")
    listing.set_defaults(gateway_command=user_list)
    show = common(commands.add_parser("show", help="one user's admin view (JSON)"))
    show.add_argument("id", help="the user's id")
    show.set_defaults(gateway_command=user_show)
    create = common(commands.add_parser("create", help="create a local user (owned by no "
                                                      "provider) from a SCIM User JSON file"))
    create.add_argument("file", help="path to the JSON body, or - for stdin")
    create.set_defaults(gateway_command=user_create)
    for action in actions.ACTIONS:
        one = common(commands.add_parser(action, help=f"{action} a user now"))
        one.add_argument("id", help="the user's id")
        one.add_argument("--reason", help="recorded in the sync log")
        one.set_defaults(gateway_command=user_action)
