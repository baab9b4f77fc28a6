"""python-scim's scim2-server as an ASGI app: its in-memory storage, the default schemas of
RFC 7643 and one static bearer token, as its own `scim2-server` command serves them, but
under uvicorn (the command's WSGI server is HTTP/1.0, a new connection per request, which
would measure connection set-up rather than SCIM). Runs in the peers' venv, not ours:

    SCIM2_BENCH_TOKEN=... uvicorn bench.peers.scim2_app:app
"""

from __future__ import annotations

import os

from scim2_models import ScimProvider, UnauthorizedException
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)


class BearerASGI(ASGIApplication):
    """The ASGI application with the check the command's BearerTokenApplication makes."""

    token = os.environ.get("SCIM2_BENCH_TOKEN", "")

    def check_auth(self, request: ScimRequest) -> None:
        scheme, _, value = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or value != self.token:
            raise UnauthorizedException


def build() -> BearerASGI:
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []),
                                     BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(load_default_schemas().values(),
                                           load_default_resource_types().values(),
                                           config=config)
    service = ScimService(provider, secret=os.urandom(32).hex())
    return BearerASGI(AsyncInMemoryStorage(), provider, service)


app = build()
