"""Who is calling: the provider named by the URL and its credential, or the admin.

A refusal says nothing about what exists. Every 401 on the SCIM API is the same, for an
unknown provider id as for a known one: the same detail and both challenges (Bearer and
Basic, two WWW-Authenticate values), and the same work before it (one indexed query by the
hash of the presented secret, the authenticate hooks called with no matching credential).
What went wrong is counted for the admin (gateway.accounts.auth_failures), and a client that
keeps failing is slowed down with 429 (gateway.accounts.throttle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from gateway.accounts.auth_failures import ADMIN_API, UNKNOWN, reason_for
from gateway.accounts.credentials import ADMIN, hash_secret, presented, verify_secret
from gateway.accounts.throttle import client_key, retry_after
from gateway.observability.middleware import request_info
from gateway.scim.errors import ScimError
from gateway.store import providers as queries
from gateway.store.base import CredentialRow, ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway

REALM = 'realm="identity-gateway"'
CHALLENGES = (f"Bearer {REALM}", f"Basic {REALM}")
DETAIL = "Authentication required: send this provider's credential"
# What an id that names no provider is checked against, so that it costs what a known one
# does: a stand-in provider with a standing credential of each built-in kind, whose hash no
# secret has.
NO_PROVIDER = ProviderRow(id="", name="", plugin=None, auth_kind="", settings={},
                          created_at="")
NO_CREDENTIALS = [CredentialRow(id="", provider_id="", kind=kind, username="",
                                secret_hash="sha256$" + "0" * 64, created_at="")
                  for kind in ("bearer", "basic")]


class Unauthorized(ScimError):
    """A 401 with its challenges, each sent as a WWW-Authenticate value of its own."""

    def __init__(self, detail: str, challenges: tuple[str, ...] = CHALLENGES) -> None:
        super().__init__(401, detail)
        self.challenges = challenges


def too_many(wait: float, what: str) -> ScimError:
    seconds = retry_after(wait)
    return ScimError(429, f"Too many {what}; retry after {seconds} seconds",
                     headers={"Retry-After": str(seconds)})


def client_of(request: Request) -> str:
    return client_key(request.client.host if request.client else None)


def count_failure(gw: Gateway, provider_id: str, reason: str) -> None:
    gw.auth_failures.add(provider_id, reason, gw.clock.stamp())


async def refuse_if_limited(gw: Gateway, pid: str, wait: float, reason: str,
                            what: str) -> None:
    """Past a limit (``wait`` seconds to go): count the 429 under the provider when the id
    names one (looked up once), and raise it."""
    if not wait:
        return
    if pid != ADMIN_API and pid not in gw.throttle.known:
        async with gw.store.lookup() as conn:
            if await queries.get_provider(conn, pid) is None:
                pid = UNKNOWN
            else:
                gw.throttle.known.add(pid)
    count_failure(gw, pid, reason)
    raise too_many(wait, what)


async def authenticate_provider(request: Request, gw: Gateway) -> ProviderRow:
    """The provider of /scim/v2/{provider}/..., if the request's credential is one of its own.

    An unknown provider and a wrong credential get the same answer after the same work.
    """
    pid = request.path_params.get("provider", "")
    client = client_of(request)
    await auth_wait(request)
    offered = presented(request)
    async with gw.store.lookup() as conn:
        provider, matches = await queries.credential_lookup(conn, pid,
                                                            hash_secret(offered.secret))
    now = gw.clock.stamp()
    if provider is not None:  # it exists: its metrics count its requests, failures included
        request_info(request.scope).provider_id = provider.id
    live = [c for c in matches if c.live(now)] if provider is not None else NO_CREDENTIALS
    principal = await gw.hooks.call("authenticate", request=request,
                                    provider=provider or NO_PROVIDER, credentials=live,
                                    gateway=gw)
    if provider is None or principal is None or principal.provider_id != provider.id:
        count_failure(gw, provider.id if provider else UNKNOWN,
                      reason_for(offered, provider, matches, now))
        gw.throttle.failed(pid, client)
        raise Unauthorized(DETAIL)
    gw.throttle.succeeded(pid, client)
    request.state.principal = principal
    return provider


async def authenticate_admin(request: Request, gw: Gateway) -> None:
    client = client_of(request)
    await refuse_if_limited(gw, ADMIN_API, gw.throttle.auth_wait(ADMIN_API, client),
                            "rate_limited", "failed authentications")
    offered = presented(request)
    async with gw.store.lookup() as conn:
        _, matches = await queries.credential_lookup(conn, ADMIN, hash_secret(offered.secret))
    now = gw.clock.stamp()
    if offered.scheme == "bearer" and any(
            c.kind == "admin" and c.live(now) and verify_secret(offered.secret, c.secret_hash)
            for c in matches):
        gw.throttle.succeeded(ADMIN_API, client)
        return
    count_failure(gw, ADMIN_API, reason_for(offered, None, matches, now))
    gw.throttle.failed(ADMIN_API, client)
    raise Unauthorized("Admin authentication required: send the admin token as a Bearer token",
                       (CHALLENGES[0],))


# For plugins' own credential endpoints (an OAuth token endpoint), through gateway.plugin. --

async def limit_token_request(request: Request) -> None:
    """Count a token request for the provider of the URL and its client address; raise a
    429 ScimError (Retry-After in its headers) when it is over a limit."""
    gw: Gateway = request.app.state.gateway
    pid = request.path_params.get("provider", "")
    await refuse_if_limited(gw, pid, gw.throttle.token_wait(pid, client_of(request)),
                            "token_rate_limited", "token requests")


def auth_failed(request: Request, provider: ProviderRow | None,
                reason: str = "unknown_credential") -> None:
    """Count a refused credential (for example a wrong client secret) against the client's
    and the provider's failure limits, and for the admin under its reason."""
    gw: Gateway = request.app.state.gateway
    count_failure(gw, provider.id if provider else UNKNOWN, reason)
    gw.throttle.failed(request.path_params.get("provider", ""), client_of(request))


async def auth_wait(request: Request) -> None:
    """Raise a 429 ScimError when the client is past a failed-authentication limit."""
    gw: Gateway = request.app.state.gateway
    pid = request.path_params.get("provider", "")
    await refuse_if_limited(gw, pid, gw.throttle.auth_wait(pid, client_of(request)),
                            "rate_limited", "failed authentications")
