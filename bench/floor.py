"""The floor: a bare Starlette endpoint with a fixed small JSON body, served like the gateway.

`python -m bench.floor --port N` serves it with the uvicorn options `identity-gateway serve`
takes from its settings (`server_options`: the HTTP protocol class with its guards, the
event loop, the deadlines), so the floor moves with the gateway's HTTP stack."""

from __future__ import annotations

import argparse
import importlib.util
import os
from typing import Any

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0}'


async def floor(request):
    return Response(BODY, media_type="application/scim+json")


app = Starlette(routes=[Route("/floor", floor)])


def gateway_options() -> dict[str, Any]:
    """uvicorn's options as `identity-gateway serve` passes them, for default settings."""
    from gateway.cli.serve import server_options
    from gateway.settings import load_settings

    return server_options(load_settings(os.devnull))


def stack() -> dict[str, str]:
    """The gateway's HTTP parser and event loop as uvicorn names them (`--http`, `--loop`),
    so that a Python peer can be served on the same stack."""
    options = gateway_options()
    http = options.get("http", "auto")
    if isinstance(http, type):
        from uvicorn.protocols.http.h11_impl import H11Protocol

        http = "h11" if issubclass(http, H11Protocol) else "httptools"
    loop = options.get("loop", "auto")
    if not isinstance(loop, str) or loop not in ("asyncio", "uvloop"):
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    if http == "auto":
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return {"http": http, "loop": loop}


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="serve the floor endpoint")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port,
                                           log_level="warning", log_config=None,
                                           access_log=False, **gateway_options()))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it shut down for
        pass


if __name__ == "__main__":
    main()
