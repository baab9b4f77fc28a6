"""`identity-gateway provider attributes NAME [list|declare|declare-seen|set|remove]`: a
provider's custom attributes and the undeclared ones its IdP sent, through the same
functions as the admin API."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gateway.accounts import custom_attributes
from gateway.cli.common import common, print_json, print_table, run
from gateway.cli.guard import given_only
from gateway.core import Gateway
from gateway.errors import GatewayError
from gateway.scim.custom import TYPES


def subs(specs: list[str] | None) -> list[dict]:
    """`--sub number:integer --sub site` -> sub_attributes."""
    out = []
    for spec in specs or []:
        name, _, kind = spec.partition(":")
        out.append({"name": name, "type": kind or "string"})
    return out


def declared_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"schema": args.schema, "name": args.attribute,
                            "resource_type": args.resource_type, "type": args.type,
                            "multi_valued": args.multi_valued, "case_exact": args.case_exact,
                            "sub_attributes": subs(args.sub)}
    if args.description is not None:
        body["description"] = args.description
    return body


def changes(args: argparse.Namespace) -> dict[str, Any]:
    found = {"type": args.type, "multi_valued": args.multi_valued,
             "case_exact": args.case_exact, "description": args.description}
    out = {k: v for k, v in found.items() if v is not None}
    if args.sub:
        out["sub_attributes"] = subs(args.sub)
    if not out:
        raise GatewayError("nothing to change: give --type, --multi-valued/--single-valued, "
                           "--case-exact/--ignore-case, --description or --sub")
    return out


def show(listing: dict) -> None:
    print(f"undeclared attributes: {listing['undeclared_attributes']}")
    print_table(["DECLARED", "RESOURCE_TYPE", "TYPE", "MULTI_VALUED", "CASE_EXACT"],
                [[d["path"], d["resource_type"], d["type"], "yes" if d["multi_valued"] else "no",
                  "yes" if d["case_exact"] else "no"] for d in listing["declared"]],
                "no custom attributes declared")
    print_table(["UNDECLARED", "COUNT", "EXAMPLE", "SUGGESTED_TYPE", "LAST_SEEN"],
                [[u["path"], u["count"], json.dumps(u["example"]),
                  u["suggested"]["type"] + ("[]" if u["suggested"]["multi_valued"] else ""),
                  u["last_seen"]] for u in listing["undeclared"]],
                "no undeclared attributes seen")


def cmd_attributes(args: argparse.Namespace) -> int:
    async def work(gw: Gateway) -> int:
        action = args.attributes_action
        if action == "list":
            show(await custom_attributes.listing(gw, args.name))
        elif action == "declare":
            decl = custom_attributes.declaration(declared_body(args))
            print_json(await custom_attributes.declare(gw, args.name, decl))
        elif action == "declare-seen":
            print_json(await custom_attributes.declare_seen(gw, args.name, args.path,
                                                            args.type))
        elif action == "set":
            print_json(await custom_attributes.change(gw, args.name, args.path,
                                                      changes(args)))
        else:
            removed = await custom_attributes.remove(gw, args.name, args.path)
            print(f"removed custom attribute {removed['path']} (users keep the values "
                  "stored under it, now undeclared)")
        return 0

    return run(args, work)


def add_command(actions: Any) -> None:
    """`provider attributes` among the `provider` subcommands."""
    top = actions.add_parser(
        "attributes", help="a provider's custom attributes: list, declare, set, remove",
        description="Without an action, lists the declared custom attributes and the "
                    "undeclared ones the IdP sent (how often, an example, the type their "
                    "values suggest). Declared attributes are checked by type, filterable "
                    "and in the provider's /Schemas.")
    top.add_argument("name", help="the provider's name or id")
    steps = top.add_subparsers(dest="attributes_action")
    given_only(steps.add_parser("list", help="declared and undeclared attributes (default)"))
    kinds = ", ".join(TYPES)
    declare = given_only(steps.add_parser(
        "declare", help="declare a custom attribute",
        description="For example: declare urn:ietf:params:scim:schemas:extension:"
                    "CustomExtensionName:2.0:User costCenter --type string"))
    declare.add_argument("schema", help="the extension's URN, as the IdP sends it (such as "
                                        "urn:ietf:params:scim:schemas:extension:NAME:2.0:"
                                        "User, or the namespace the IdP gives the attribute)")
    declare.add_argument("attribute", help="the attribute's name, as the IdP sends it")
    declare.add_argument("--type", default="string", help=f"one of {kinds} (default string)")
    declare.add_argument("--resource-type", default="User", choices=("User", "Group"),
                         help="what it extends (default User)")
    declare.add_argument("--multi-valued", action="store_true", help="a list of values")
    declare.add_argument("--case-exact", action="store_true",
                         help="filters compare its values with regard to case")
    declare.add_argument("--description", help="what it holds, shown in /Schemas")
    declare.add_argument("--sub", action="append", metavar="NAME[:TYPE]",
                         help="a sub-attribute of a complex attribute (repeat for each)")
    seen = given_only(steps.add_parser(
        "declare-seen", help="declare an undeclared attribute the IdP sent, with the type "
                             "its values suggest"))
    seen.add_argument("path", help="its path, as listed: URN:name")
    seen.add_argument("--type", help="declare it with this type instead")
    change = given_only(steps.add_parser("set", help="change a custom attribute's type, "
                                                     "cardinality, case or description"))
    change.add_argument("path", help="its path: URN:name")
    change.add_argument("--type", help=f"one of {kinds}")
    multi = change.add_mutually_exclusive_group()
    multi.add_argument("--multi-valued", dest="multi_valued", action="store_const", const=True,
                       help="a list of values")
    multi.add_argument("--single-valued", dest="multi_valued", action="store_const",
                       const=False, help="one value")
    case = change.add_mutually_exclusive_group()
    case.add_argument("--case-exact", dest="case_exact", action="store_const", const=True,
                      help="filters compare its values with regard to case")
    case.add_argument("--ignore-case", dest="case_exact", action="store_const", const=False,
                      help="filters compare its values without regard to case")
    change.add_argument("--description", help="what it holds, shown in /Schemas")
    change.add_argument("--sub", action="append", metavar="NAME[:TYPE]",
                        help="the sub-attributes of a complex attribute (all of them)")
    remove = given_only(steps.add_parser("remove", help="remove a custom attribute (users "
                                                        "keep its values, now undeclared)"))
    remove.add_argument("path", help="its path: URN:name")
    common(top)
    top.set_defaults(func=cmd_attributes, attributes_action="list")
