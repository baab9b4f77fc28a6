"""The commands that enabled plugins add to `identity-gateway` (the `cli_commands` hook)."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.common import common
from gateway.hooks import Hooks, make_plugin_manager
from gateway.settings import load_settings


def add_commands(sub: Any, argv: list[str] | None) -> None:
    """Ask the plugins enabled by the config the command line names for their commands."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    known, _ = early.parse_known_args(argv)
    try:
        pm = make_plugin_manager(load_settings(known.config).plugins)
    except Exception:  # a broken config is reported by the command that needs it
        return
    Hooks(pm).call_sync("cli_commands", subparsers=sub, common=common)
