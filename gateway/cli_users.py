"""`identity-gateway user list|show|create|block|unblock|deactivate|reactivate`, and the
commands that enabled plugins add through the `cli_commands` hook.

Each command runs with the Gateway open on the configured database and calls the same code
as the admin API.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from gateway import users
from gateway.core import Gateway

Common = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def user_line(view: dict) -> str:
    profile = view.get("profile") or {}
    name = profile.get("username") or profile.get("email") or "-"
    hold = " legal_hold" if view.get("legal_hold") else ""
    due = f" due={view['deactivate_at']}" if view.get("deactivate_at") else ""
    return f"{view['id']}\t{view['state']}{due}{hold}\t{view['source']}\t{name}"


async def user_list(gw: Gateway, args: argparse.Namespace) -> int:
    page = await users.list_users(gw, provider=args.provider, state=args.state, q=args.q,
                                  cursor=args.cursor, limit=args.limit)
    if args.json:
        print_json(page)
        return 0
    for view in page["items"]:
        print(user_line(view))
    if page["next_cursor"]:
        print(f"more: --cursor {page['next_cursor']}", file=sys.stderr)
    return 0


async def user_show(gw: Gateway, args: argparse.Namespace) -> int:
    view = await users.user_view(gw, args.id)
    if view is None:
        print(f"identity-gateway: no user '{args.id}'", file=sys.stderr)
        return 1
    print_json(view)
    return 0


async def user_create(gw: Gateway, args: argparse.Namespace) -> int:
    """A local user from a SCIM User body (a file, or - for stdin)."""
    from gateway.scim.errors import ScimError

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    try:
        view = await users.create_local(gw, json.loads(text))
    except (ValueError, ScimError) as exc:
        print(f"identity-gateway: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 2
    print_json(view)
    return 0


async def user_action(gw: Gateway, args: argparse.Namespace) -> int:
    try:
        view = await users.admin_action(gw, args.id, args.action, reason=args.reason)
    except users.ActionRefused as exc:
        print(f"identity-gateway: {exc}", file=sys.stderr)
        return 2
    if view is None:
        print(f"identity-gateway: no user '{args.id}'", file=sys.stderr)
        return 1
    print(user_line(view))
    return 0


def add_user_commands(sub: Any, common: Common) -> None:
    user = sub.add_parser("user", help="users: list, show, create local, block, deactivate")
    actions = user.add_subparsers(dest="action", required=True)
    listing = common(actions.add_parser("list", help="list users"))
    listing.add_argument("--provider", help="a provider id, or 'local'")
    listing.add_argument("--state", help="active, pending_deactivation, deactivated, blocked")
    listing.add_argument("--q", help="part of a userName or displayName")
    listing.add_argument("--cursor")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(gateway_command=user_list)
    show = common(actions.add_parser("show", help="one user's admin view (JSON)"))
    show.add_argument("id")
    show.set_defaults(gateway_command=user_show)
    create = common(actions.add_parser("create", help="create a local user (owned by no "
                                                      "provider) from a SCIM User JSON file"))
    create.add_argument("file", help="path to the JSON body, or - for stdin")
    create.set_defaults(gateway_command=user_create)
    for action in users.ACTIONS:
        one = common(actions.add_parser(action, help=f"{action} a user now"))
        one.add_argument("id")
        one.add_argument("--reason", help="recorded in the sync log")
        one.set_defaults(gateway_command=user_action)


def add_plugin_commands(sub: Any, common: Common, argv: list[str] | None) -> None:
    """Ask the plugins enabled by the config the command line names for their commands."""
    from gateway.plugins import make_plugin_manager
    from gateway.settings import load_settings

    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    known, _ = early.parse_known_args(argv)
    try:
        pm = make_plugin_manager(load_settings(known.config).plugins)
    except Exception:  # a broken config is reported by the command that needs it
        return
    pm.hook.cli_commands(subparsers=sub, common=common)
