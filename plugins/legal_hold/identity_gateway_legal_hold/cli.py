"""`identity-gateway legal-hold place USER --matter TEXT | release USER | list`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.plugin import ScimError
from identity_gateway_legal_hold import holds


async def place(gw: Any, args: argparse.Namespace) -> int:
    body = {"user": args.user, "matter": args.matter}
    if args.by:
        body["placed_by"] = args.by
    return await _run(holds.place(gw, body))


async def release(gw: Any, args: argparse.Namespace) -> int:
    return await _run(holds.release(gw, args.user, args.by))


async def listing(gw: Any, args: argparse.Namespace) -> int:
    page = await holds.list_holds(gw, user=args.user, include_released=args.all, limit=1000)
    for hold in page["items"]:
        released = f"\treleased {hold['released_at']} by {hold['released_by']}" \
            if hold["released_at"] else ""
        print(f"{hold['user']}\t{hold['matter']}\tplaced {hold['placed_at']} by "
              f"{hold['placed_by']}{released}")
    return 0


async def _run(work: Any) -> int:
    try:
        result = await work
    except ScimError as error:
        print(f"identity-gateway: {error.detail}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def add_commands(sub: Any, common: Any) -> None:
    top = sub.add_parser("legal-hold", help="place, release and list legal holds")
    actions = top.add_subparsers(dest="action", required=True)
    put = common(actions.add_parser("place", help="put a user on hold"))
    put.add_argument("user", help="the user's id")
    put.add_argument("--matter", required=True, help="the matter the hold is for")
    put.add_argument("--by", help="who places it (recorded)")
    put.set_defaults(gateway_command=place)
    out = common(actions.add_parser("release", help="release a user's hold"))
    out.add_argument("user")
    out.add_argument("--by", help="who releases it (recorded)")
    out.set_defaults(gateway_command=release)
    ls = common(actions.add_parser("list", help="list holds"))
    ls.add_argument("--user")
    ls.add_argument("--all", action="store_true", help="include released holds")
    ls.set_defaults(gateway_command=listing)
