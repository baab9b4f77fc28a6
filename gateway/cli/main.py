"""The `identity-gateway` command: serve | migrate | provider | admin-token | admin | user |
synclog | synclog-export | events | webhook | auth-failures | secrets | plugins | plugin new,
and the commands enabled plugins add."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from gateway import __version__
from gateway.cli import admins, events, plugins, providers, security, serve, users
from gateway.cli.common import fail, with_gateway
from gateway.errors import GatewayError


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="identity-gateway", description=__doc__)
    top.add_argument("--version", action="version", version=f"identity-gateway {__version__}")
    sub = top.add_subparsers(dest="command", required=True)
    serve.add_commands(sub)
    providers.add_commands(sub)
    events.add_commands(sub)
    users.add_commands(sub)
    admins.add_commands(sub)
    security.add_commands(sub)
    plugins.add_commands(sub, argv)
    return top


def cmd_gateway(args: argparse.Namespace) -> int:
    """A command that runs with the Gateway open (users, plugins' commands)."""
    return asyncio.run(with_gateway(args, lambda gw: args.gateway_command(gw, args)))


def main(argv: list[str] | None = None) -> int:
    args = parser(argv).parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # serve's workers run it again
    try:
        if getattr(args, "gateway_command", None):
            return cmd_gateway(args)
        return args.func(args)
    except GatewayError as exc:
        return fail(exc.detail)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining
        # when it flushes standard output at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
