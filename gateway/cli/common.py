"""What every command shares: the options naming the config and database, running work
with the Gateway open, and printing."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.app import build_gateway, opened
from gateway.core import Gateway
from gateway.errors import GatewayError
from gateway.settings import DEFAULT_CONFIG, Settings, load_settings

Work = Callable[[Gateway], Awaitable[int]]


# Commands that may create a new, empty SQLite database without being asked.
CREATING = ("serve", "migrate")


def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give a command --database, --config and --create, like every command that opens the
    store."""
    p.add_argument("--database", help="SQLite file or postgresql:// URL (env DATABASE)")
    p.add_argument("--config", help="config file (default identity-gateway.toml)")
    p.add_argument("--create", action="store_true",
                   help="create the SQLite database if it does not exist yet")
    return p


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    settings = load_settings(getattr(args, "config", None),
                             database=getattr(args, "database", None),
                             host=getattr(args, "host", None), port=getattr(args, "port", None),
                             **extra)
    if settings.config_path is None and getattr(args, "worker_socket", None) is None:
        print(f"identity-gateway: no config file (no {DEFAULT_CONFIG} here, no --config): "
              f"using the defaults and database {settings.database}", file=sys.stderr)
    return settings


def creates_database(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether this command makes a new SQLite database. A command run in the wrong folder
    must not make an empty one and report that it is empty: only serve and migrate create
    one unless --create asks for it (and then it is migrated at once)."""
    if "://" in settings.database or Path(settings.database).exists():
        return False
    if getattr(args, "create", False) or getattr(args, "command", None) in CREATING:
        return True
    raise GatewayError(f"no database at {settings.database} (run this where "
                       f"{DEFAULT_CONFIG} is, pass --database or --config, or --create "
                       "to make a new, empty one)")


async def with_gateway(args: argparse.Namespace, work: Work, migrate: bool = False,
                       settings: Settings | None = None) -> int:
    """Run `work` with the Gateway open on the configured database (or on `settings`,
    already read), closed afterwards."""
    settings = settings or settings_from(args, migrate=migrate or None)
    if creates_database(args, settings) and getattr(args, "create", False):
        settings.migrate = True  # asked for a new database: make it usable
    async with opened(build_gateway(settings)) as gw:
        return await work(gw)


def run(args: argparse.Namespace, work: Work) -> int:
    return asyncio.run(with_gateway(args, work))


def print_lines(lines: list[tuple[str, str]]) -> None:
    for label, value in lines:
        print(f"{label}: {value}")


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def print_table(headers: list[str], rows: list[list[Any]], empty: str) -> None:
    """Tab-separated rows under a header row (`cut -f` and spreadsheets read it); when there
    are no rows, `empty` on standard error, so a script's output stays empty."""
    if not rows:
        print(empty, file=sys.stderr)
        return
    print("\t".join(headers))
    for row in rows:
        print("\t".join("-" if value in (None, "") else str(value) for value in row))


def fail(message: str, status: int = 2) -> int:
    print(f"identity-gateway: {message}", file=sys.stderr)
    return status
