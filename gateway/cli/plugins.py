"""`identity-gateway plugins` (what is loaded), `plugin new` (gateway.cli.plugin_new), and
the commands that enabled plugins add to `identity-gateway` (the `cli_commands` hook)."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.app import create_app
from gateway.cli import plugin_new
from gateway.cli.common import common, settings_from
from gateway.hooks import Hooks, describe, make_plugin_manager
from gateway.settings import load_settings


def cmd_plugins(args: argparse.Namespace) -> int:
    """The plugins the config enables, with versions and hooks (no database needed), once
    the app is built as `serve` builds it: a plugin whose config section its
    `gateway_config` hook refuses, or whose startup hooks fail, stops the listing with the
    same one line (and exit status) as it stops `serve`."""
    app = create_app(settings_from(args), run_scheduler=False)
    loaded = describe(app.state.gateway.pm)
    print("NAME\tVERSION\tHOOKS")
    for plugin in loaded:
        print(f"{plugin['name']}\t{plugin['version'] or '-'}\t{', '.join(plugin['hooks'])}")
    return 0


def add_commands(sub: Any, argv: list[str] | None) -> None:
    """`plugins`, then the commands of the plugins the named config enables."""
    listing = sub.add_parser("plugins", help="list the plugins the config enables and "
                                             "the hooks each implements")
    listing.add_argument("--config", help="config file (default identity-gateway.toml)")
    listing.set_defaults(func=cmd_plugins)
    plugin_new.add_commands(sub)
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    known, _ = early.parse_known_args(argv)
    try:
        pm = make_plugin_manager(load_settings(known.config).plugins)
    except Exception:  # a broken config is reported by the command that needs it
        return
    Hooks(pm).call_sync("cli_commands", subparsers=sub, common=common)
