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

from gateway.accounts.providers import provider_filter
from gateway.cli.common import common, print_table, run
from gateway.core import Gateway
from gateway.events import feed, synclog, webhooks


def show(value: Any) -> None:
    print(json.dumps(value, indent=2))


LOG_HEADERS = ["SEQ", "AT", "PROVIDER", "ACTOR", "OPERATION", "RESOURCE", "OUTCOME", "DETAIL"]


def entry_row(item: dict) -> list:
    resource = " ".join(str(part) for part in (item["resource_type"], item.get("subject"),
                                               item["resource_id"]) if part)
    detail = f"{item['status']} {item['detail']}" if item["outcome"] == "error" else ""
    if item.get("reason"):
        detail = f"{detail} ({item['reason']})".strip()
    return [item["seq"], item["at"], item["provider"], item["actor"], item["operation"],
            resource, item["outcome"], detail]


def print_entry(item: dict, fmt: str, writer: Any = None) -> None:
    if fmt == "json":
        print(msgspec.json.encode(item).decode())
    elif fmt == "csv" and writer is not None:
        writer.writerow(synclog.csv_row(item))
    else:
        print("\t".join("-" if v in (None, "") else str(v) for v in entry_row(item)))


async def log_filters(gw: Gateway, args: argparse.Namespace) -> dict:
    filters = {name: getattr(args, name) for name in synclog.FILTERS}
    filters["provider"] = await provider_filter(gw, filters["provider"])
    return filters


def cmd_synclog(args: argparse.Namespace) -> int:
    async def work(gw: Gateway) -> int:
        filters = await log_filters(gw, args)
        page = await synclog.query(gw, limit=args.limit, **filters)
        items = list(reversed(page["items"]))
        writer = csv.writer(sys.stdout) if args.format == "csv" else None
        if writer:
            writer.writerow(synclog.CSV_COLUMNS)
        elif args.format == "text" and (items or args.follow):
            print("\t".join(LOG_HEADERS))
        if not items:
            print("no sync-log entries match" + (" yet; following" if args.follow else ""),
                  file=sys.stderr)
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
            rows = [[h["id"], h["url"], ",".join(h["events"]), h["pending"], h["dead_letters"]]
                    for h in (await webhooks.list_all(gw))["items"]]
            print_table(["ID", "URL", "EVENTS", "PENDING", "DEAD_LETTERS"], rows,
                        "no webhooks yet: `identity-gateway webhook add URL`")
        elif args.action == "remove":
            await webhooks.remove(gw, args.id)
            print(f"removed webhook {args.id}")
        elif args.action == "dead-letters":
            rows = [[item["seq"], item["event"]["type"], item["event"]["resource_id"],
                     item["attempts"], item["last_error"]]
                    for item in (await webhooks.dead_letters(gw, args.id, limit=1000))["items"]]
            print_table(["SEQ", "TYPE", "RESOURCE", "ATTEMPTS", "LAST_ERROR"], rows,
                        "no dead letters")
        else:
            show(await webhooks.redeliver(gw, args.id, args.seq or None))
        return 0

    return run(args, work)


def cmd_export(args: argparse.Namespace) -> int:
    """The whole matching sync log, oldest first, as CSV or JSON lines."""

    async def work(gw: Gateway) -> int:
        filters = await log_filters(gw, args)
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


FILTER_HELP = {
    "provider": "only this provider's entries (its name or id)",
    "user": "only entries about this user or group (its id)",
    "who": "only entries about the user with this userName or email address",
    "group": "only entries about the group with this displayName",
    "actor": "only changes made by this actor: an admin's name, a provider's name, a "
             "plugin's name, or as stored (console:alice)",
    "batch": "only the entries of this batch (a Bulk request, a guard release, a plugin's "
             "run)",
    "operation": "create, replace, patch, delete, lifecycle, block, ...",
    "outcome": "success, error or unchanged (a write that changed nothing), or several "
               "separated by commas",
    "since": "from this RFC 3339 time or date on",
    "until": "before this RFC 3339 time or date",
}


def add_commands(sub: Any) -> None:
    log = common(sub.add_parser("synclog", help="show the newest sync-log entries"))
    for name, text in FILTER_HELP.items():
        log.add_argument(f"--{name}", help=text)
    log.add_argument("--limit", type=int, default=20, help="how many of the newest entries")
    log.add_argument("--format", choices=["text", "json", "csv"], default="text",
                     help="text (default), one JSON object per line, or CSV")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new entries")
    log.add_argument("--follow-seconds", type=float, default=3600.0,
                     help="stop following after this long")
    log.set_defaults(func=cmd_synclog)

    ev = common(sub.add_parser("events", help="print events from the outbox as JSON lines"))
    ev.add_argument("--after", type=int, default=0, help="the last seq already seen")
    ev.add_argument("--limit", type=int, default=100, help="events per page (at most 1000)")
    ev.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    ev.add_argument("--follow-seconds", type=float, default=3600.0,
                    help="stop following after this long")
    ev.set_defaults(func=cmd_events)

    hook = sub.add_parser("webhook", help="manage webhooks")
    actions = hook.add_subparsers(dest="action", required=True)
    add = common(actions.add_parser("add", help="register a webhook"))
    add.add_argument("url", help="the receiver's http(s) URL")
    add.add_argument("--secret", help="the HMAC key (default: generated and shown once)")
    add.add_argument("--events", nargs="+", help="event types (default: all)")
    common(actions.add_parser("list", help="list webhooks (never their secrets)"))
    for name, text in (("remove", "remove a webhook"),
                       ("dead-letters", "list a webhook's parked deliveries"),
                       ("redeliver", "queue dead letters for delivery again")):
        p = common(actions.add_parser(name, help=text))
        p.add_argument("id", help="the webhook's id (see `webhook list`)")
        if name == "redeliver":
            p.add_argument("--seq", type=int, nargs="+", help="only these events")
    hook.set_defaults(func=cmd_webhook)

    exp = common(sub.add_parser("synclog-export",
                                help="export the sync log (oldest first) as CSV or JSON lines"))
    for name, text in FILTER_HELP.items():
        exp.add_argument(f"--{name}", help=text)
    exp.add_argument("--format", choices=list(synclog.EXPORT_FORMATS), default="jsonl",
                     help="jsonl (default: one JSON object per line) or csv")
    exp.add_argument("--output", "-o", help="file to write (default: standard output)")
    exp.set_defaults(func=cmd_export)
