"""`identity-gateway admin add|list|passwd|disable|enable|remove`: the console's named
accounts."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.accounts import admins
from gateway.cli.common import common, run
from gateway.core import Gateway


def password_from(args: argparse.Namespace) -> str | None:
    """The password read from standard input (--password-stdin), or None to generate one."""
    if not args.password_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


def cmd_admin(args: argparse.Namespace) -> int:
    async def add(gw: Gateway) -> int:
        account, generated = await admins.add_admin(gw, args.name, args.role,
                                                    password_from(args))
        print(f"Console account: {account.name} ({account.role})")
        if generated:
            print(f"Console password: {generated}")
        return 0

    async def listing(gw: Gateway) -> int:
        print("NAME\tROLE\tSOURCE\tSTATUS\tCREATED\tLAST SIGN-IN")
        for a in await admins.list_admins(gw):
            status = "disabled" if a.disabled_at else "enabled"
            print(f"{a.name}\t{a.role}\t{a.source}\t{status}\t{a.created_at}\t"
                  f"{a.last_sign_in_at or '-'}")
        return 0

    async def disable(gw: Gateway) -> int:
        await admins.set_disabled(gw, args.name, args.action == "disable")
        if args.action == "disable":
            print(f"Disabled the console account {args.name}; its console sessions have "
                  "ended.")
        else:
            print(f"Enabled the console account {args.name}.")
        return 0

    async def passwd(gw: Gateway) -> int:
        generated = await admins.change_password(gw, args.name, password_from(args))
        print(f"Password changed for {args.name}; its console sessions have ended.")
        if generated:
            print(f"Console password: {generated}")
        return 0

    async def remove(gw: Gateway) -> int:
        await admins.remove_admin(gw, args.name)
        print(f"Removed the console account {args.name}.")
        return 0

    work = {"add": add, "list": listing, "passwd": passwd, "remove": remove,
            "disable": disable, "enable": disable}[args.action]
    return run(args, work)


def add_commands(sub: Any) -> None:
    top = sub.add_parser("admin", help="console accounts (named admins and auditors)")
    actions = top.add_subparsers(dest="action", required=True)
    add = common(actions.add_parser(
        "add", help="add an account; prints a generated password once"))
    add.add_argument("name", help="the account name (lower case)")
    add.add_argument("--role", default=admins.ADMIN, choices=admins.ACCESS,
                     help="admin: everything; auditor: read only")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of generating one")
    common(actions.add_parser("list", help="list accounts"))
    pw = common(actions.add_parser(
        "passwd", help="set a new password (generated unless --password-stdin); ends the "
        "account's sessions"))
    pw.add_argument("name", help="the account name")
    pw.add_argument("--password-stdin", action="store_true",
                    help="read the new password from standard input instead of generating one")
    off = common(actions.add_parser(
        "disable", help="disable an account: it cannot sign in and its sessions end"))
    off.add_argument("name", help="the account name")
    on = common(actions.add_parser("enable", help="enable a disabled account again"))
    on.add_argument("name", help="the account name")
    rm = common(actions.add_parser("remove", help="remove an account and end its sessions"))
    rm.add_argument("name", help="the account name")
    top.set_defaults(func=cmd_admin)
