"""CLI commands for the event feed, webhooks and the sync-log export (same code as the API)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, Callable

from gateway import synclog, webhooks
from gateway.core import Gateway


def run(args: argparse.Namespace, work: Callable[[Gateway], Any]) -> int:
    from gateway.cli import with_gateway

    try:
        return asyncio.run(with_gateway(args, work))
    except (webhooks.WebhookError, synclog.FilterError) as exc:
        print(f"identity-gateway: {exc}", file=sys.stderr)
        return 2


def show(value: Any) -> None:
    print(json.dumps(value, indent=2))


def cmd_events(args: argparse.Namespace) -> int:
    """Print events after --after as JSON lines; --follow keeps polling for new ones."""

    async def work(gw: Gateway) -> int:
        after = args.after
        deadline = time.monotonic() + args.follow_seconds
        while True:
            page = await synclog.events_after(gw, after, args.limit)
            for event in page["items"]:
                print(json.dumps(event))
            after = int(page["next_cursor"])
            sys.stdout.flush()
            if not args.follow or time.monotonic() > deadline:
                return 0
            if not page["items"]:
                await asyncio.sleep(1.0)

    return run(args, work)


def cmd_webhook(args: argparse.Namespace) -> int:
    async def work(gw: Gateway) -> int:
        if args.action == "add":
            body: dict = {"url": args.url, "events": args.events or ["*"]}
            if args.secret:
                body["secret"] = args.secret
            show(await webhooks.create(gw, body))
        elif args.action == "list":
            for hook in (await webhooks.list_all(gw))["items"]:
                print(f"{hook['id']}\t{hook['url']}\tevents={','.join(hook['events'])}"
                      f"\tpending={hook['pending']}\tdead_letters={hook['dead_letters']}")
        elif args.action == "remove":
            await webhooks.remove(gw, args.id)
            print(f"removed webhook {args.id}")
        elif args.action == "dead-letters":
            for item in (await webhooks.dead_letters(gw, args.id, limit=1000))["items"]:
                event = item["event"]
                print(f"{item['seq']}\t{event['type']}\t{event['resource_id'] or '-'}"
                      f"\tattempts={item['attempts']}\t{item['last_error']}")
        else:
            show(await webhooks.redeliver(gw, args.id, args.seq or None))
        return 0

    return run(args, work)


def cmd_export(args: argparse.Namespace) -> int:
    """The whole matching sync log, oldest first, as CSV or JSON lines."""

    async def work(gw: Gateway) -> int:
        filters = dict(provider=args.provider, user=args.user, operation=args.operation,
                       outcome=args.outcome, since=args.since, until=args.until)
        out = open(args.output, "w", newline="") if args.output else sys.stdout
        try:
            async for chunk in synclog.export(gw, args.format, **filters):
                out.write(chunk)
        finally:
            if args.output:
                out.close()
        return 0

    return run(args, work)


def add_commands(sub: Any, common: Callable[[argparse.ArgumentParser],
                                            argparse.ArgumentParser]) -> None:
    ev = common(sub.add_parser("events", help="print events from the outbox as JSON lines"))
    ev.add_argument("--after", type=int, default=0, help="the last seq already seen")
    ev.add_argument("--limit", type=int, default=100)
    ev.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    ev.add_argument("--follow-seconds", type=float, default=3600.0)
    ev.set_defaults(func=cmd_events)

    hook = sub.add_parser("webhook", help="manage webhooks")
    actions = hook.add_subparsers(dest="action", required=True)
    add = common(actions.add_parser("add", help="register a webhook"))
    add.add_argument("url")
    add.add_argument("--secret", help="the HMAC key (default: generated and shown once)")
    add.add_argument("--events", nargs="+", help="event types (default: all)")
    common(actions.add_parser("list", help="list webhooks (never their secrets)"))
    for name, text in (("remove", "remove a webhook"),
                       ("dead-letters", "list a webhook's parked deliveries"),
                       ("redeliver", "queue dead letters for delivery again")):
        p = common(actions.add_parser(name, help=text))
        p.add_argument("id")
        if name == "redeliver":
            p.add_argument("--seq", type=int, nargs="+", help="only these events")
    hook.set_defaults(func=cmd_webhook)

    exp = common(sub.add_parser("synclog-export",
                                help="export the sync log (oldest first) as CSV or JSON lines"))
    for name in ("provider", "user", "operation", "outcome", "since", "until"):
        exp.add_argument(f"--{name}")
    exp.add_argument("--format", choices=list(synclog.EXPORT_FORMATS), default="jsonl")
    exp.add_argument("--output", "-o", help="file to write (default: standard output)")
    exp.set_defaults(func=cmd_export)
