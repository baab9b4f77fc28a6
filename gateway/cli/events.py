"""`identity-gateway synclog | synclog-export | events | webhook ...`: the record, from the
command line (the same code as the admin API)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from typing import Any

import anyio
import msgspec

from gateway.cli.common import common, run
from gateway.core import Gateway
from gateway.events import feed, synclog, webhooks


def show(value: Any) -> None:
    print(json.dumps(value, indent=2))


def print_entry(item: dict, fmt: str, writer: Any = None) -> None:
    if fmt == "json":
        print(msgspec.json.encode(item).decode())
    elif fmt == "csv" and writer is not None:
        writer.writerow(synclog.csv_row(item))
    else:
        who = item["provider"] or item["actor"]
        what = f"{item['operation']} {item['resource_type'] or ''} {item['resource_id'] or ''}"
        tail = f" ({item['reason']})" if item.get("reason") else ""
        error = f" {item['status']} {item['detail']}" if item["outcome"] != "success" else ""
        print(f"{item['seq']:>6} {item['at']} {who} {what.strip()} {item['outcome']}"
              f"{error}{tail}")


def cmd_synclog(args: argparse.Namespace) -> int:
    async def work(gw: Gateway) -> int:
        filters = {name: getattr(args, name) for name in synclog.FILTERS}
        page = await synclog.query(gw, limit=args.limit, **filters)
        items = list(reversed(page["items"]))
        writer = csv.writer(sys.stdout) if args.format == "csv" else None
        if writer:
            writer.writerow(synclog.CSV_COLUMNS)
        last = 0
        deadline = time.monotonic() + args.follow_seconds if args.follow else 0
        while True:
            for item in items:
                last = max(last, item["seq"])
                print_entry(item, args.format, writer)
            sys.stdout.flush()
            if not args.follow or time.monotonic() > deadline:
                return 0
            await asyncio.sleep(1.0)
            items = await synclog.entries_after(gw, last, **filters)

    return run(args, work)


def cmd_events(args: argparse.Namespace) -> int:
    """Print events after --after as JSON lines; --follow keeps polling for new ones."""

    async def work(gw: Gateway) -> int:
        after = args.after
        deadline = time.monotonic() + args.follow_seconds
        while True:
            page = await feed.events_after(gw, after, args.limit)
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
        filters = {name: getattr(args, name) for name in synclog.FILTERS}
        out = await anyio.open_file(args.output, "w", newline="") if args.output \
            else anyio.wrap_file(sys.stdout)
        try:
            async for chunk in synclog.export(gw, args.format, **filters):
                await out.write(chunk)
        finally:
            if args.output:
                await out.aclose()
        return 0

    return run(args, work)


def add_commands(sub: Any) -> None:
    log = common(sub.add_parser("synclog", help="show the newest sync-log entries"))
    log.add_argument("--provider", help="only this provider's entries (its id)")
    log.add_argument("--user", help="only entries about this user or group (its id)")
    log.add_argument("--operation", help="create, replace, patch, delete, lifecycle, ...")
    log.add_argument("--outcome", help="success or error")
    log.add_argument("--since", help="from this RFC 3339 time or date on")
    log.add_argument("--until", help="before this RFC 3339 time or date")
    log.add_argument("--limit", type=int, default=20, help="how many of the newest entries")
    log.add_argument("--format", choices=["text", "json", "csv"], default="text",
                     help="text (default), one JSON object per line, or CSV")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new entries")
    log.add_argument("--follow-seconds", type=float, default=3600.0,
                     help="stop following after this long")
    log.set_defaults(func=cmd_synclog)

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
