"""What every command shares: the options naming the config and database, running work
with the Gateway open, and printing."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.app import build_gateway, opened
from gateway.core import Gateway
from gateway.settings import Settings, load_settings

Work = Callable[[Gateway], Awaitable[int]]


def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give a command --database and --config, like every command that opens the store."""
    p.add_argument("--database", help="SQLite file or postgresql:// URL (env DATABASE)")
    p.add_argument("--config", help="config file (default identity-gateway.toml)")
    return p


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return load_settings(getattr(args, "config", None), database=getattr(args, "database", None),
                         host=getattr(args, "host", None), port=getattr(args, "port", None),
                         **extra)


async def with_gateway(args: argparse.Namespace, work: Work, migrate: bool = False) -> int:
    """Run `work` with the Gateway open on the configured database, closed afterwards."""
    async with opened(build_gateway(settings_from(args, migrate=migrate or None))) as gw:
        return await work(gw)


def run(args: argparse.Namespace, work: Work) -> int:
    return asyncio.run(with_gateway(args, work))


def print_lines(lines: list[tuple[str, str]]) -> None:
    for label, value in lines:
        print(f"{label}: {value}")


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def fail(message: str, status: int = 2) -> int:
    print(f"identity-gateway: {message}", file=sys.stderr)
    return status
