"""`identity-gateway auth-failures [PROVIDER]` (refused credentials by reason and minute) and
`identity-gateway secrets new-key [--add] | rekey` (the keys webhook secrets are encrypted
with)."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.accounts import auth_failures
from gateway.cli.common import common, print_json, run, settings_from
from gateway.core import Gateway
from gateway.errors import GatewayError, NotFound
from gateway.events import webhook_secrets
from gateway.store import providers as queries


def cmd_auth_failures(args: argparse.Namespace) -> int:
    async def show(gw: Gateway) -> int:
        provider_id = None
        if args.provider:
            async with gw.store.read() as conn:
                provider = await queries.find_provider(conn, args.provider)
            if provider is None:
                raise NotFound(f"no provider '{args.provider}'")
            provider_id = provider.id
        found = await auth_failures.listing(gw, provider_id, args.since, args.limit)
        if args.json:
            print_json(found)
            return 0
        print(f"since {found['since']}: " + (", ".join(
            f"{reason} {count}" for reason, count in found["totals"].items()) or "none"))
        for item in found["items"]:
            who = f"\t{item['provider_id'] or '(admin API)'}" if provider_id is None else ""
            print(f"{item['minute']}{who}\t{item['reason']}\t{item['count']}")
        return 0

    return run(args, show)


def cmd_secrets(args: argparse.Namespace) -> int:
    if args.action == "new-key" and not args.add:
        print(webhook_secrets.new_key())
        return 0
    if args.action == "new-key":
        try:
            path = webhook_secrets.add_key(settings_from(args))
        except OSError as exc:
            raise GatewayError(f"cannot write the webhook secret key file: {exc}") from None
        print(f"added a new first key to {path}; restart the gateway (every key listed "
              "decrypts, the first encrypts), then run `identity-gateway secrets rekey`")
        return 0

    async def rekey(gw: Gateway) -> int:
        count = await webhook_secrets.rekey(gw)
        print(f"re-encrypted {count} webhook secret(s) with the first key of "
              f"{webhook_secrets.origin(gw.settings)}; the other keys can now be removed")
        return 0

    return run(args, rekey)


def add_commands(sub: Any) -> None:
    failures = common(sub.add_parser(
        "auth-failures", help="refused credentials, counted per provider, reason and minute"))
    failures.add_argument("provider", nargs="?",
                          help="a provider's name or id (default: all; '-' marks ids that "
                               "name no provider, '(admin API)' the admin token)")
    failures.add_argument("--since", default="24h", help="how far back, e.g. 1h, 7d")
    failures.add_argument("--limit", type=int, default=1000, help="rows at most")
    failures.add_argument("--json", action="store_true", help="print JSON")
    failures.set_defaults(func=cmd_auth_failures)

    keys = sub.add_parser("secrets", help="the keys webhook secrets are encrypted with")
    key_actions = keys.add_subparsers(dest="action", required=True)
    new = common(key_actions.add_parser(
        "new-key", help="print a new random key (for IDENTITY_GATEWAY_SECRET_KEYS), or with "
                        "--add put it first in the key file"))
    new.add_argument("--add", action="store_true",
                     help="put the new key first in the key file (secret_keys_file), "
                          "keeping the others after it, instead of printing it")
    common(key_actions.add_parser(
        "rekey", help="re-encrypt every webhook secret with the first key (of "
                      "IDENTITY_GATEWAY_SECRET_KEYS, else of the key file), after putting a "
                      "new key first"))
    keys.set_defaults(func=cmd_secrets)
