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
    if not page["items"]:
        print("no legal holds" + ("" if args.all else " in force"), file=sys.stderr)
        return 0
    columns = ("user", "matter", "placed_at", "placed_by", "released_at", "released_by")
    print("\t".join(c.upper() for c in columns))
    for hold in page["items"]:
        print("\t".join(str(hold[c] or "-") for c in columns))
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
    out.add_argument("user", help="the user's id")
    out.add_argument("--by", help="who releases it (recorded)")
    out.set_defaults(gateway_command=release)
    ls = common(actions.add_parser("list", help="list holds"))
    ls.add_argument("--user", help="only this user's holds (its id)")
    ls.add_argument("--all", action="store_true", help="include released holds")
    ls.set_defaults(gateway_command=listing)
