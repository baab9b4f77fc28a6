"""Who is calling: the provider named by the URL and its credential, or the admin.

A refusal says nothing about what exists. Every 401 on the SCIM API is the same, for an
unknown provider id as for a known one: the same detail and both challenges (Bearer and
Basic, two WWW-Authenticate values), and the same work before it (one indexed query by the
hash of the presented secret, the authenticate hooks called with no matching credential,
the failure counted under the id the URL named, the request recorded in the provider
activity of an existing one or in a stand-in that is never written). Only a lookup that let
a request in is remembered (accounts.credentials.CheckedCredentials), and only while no
provider or credential changed anywhere: a refusal always costs the query.
What went wrong is counted for the admin (gateway.accounts.auth_failures), and a client that
keeps failing is slowed down with 429 (gateway.accounts.throttle). The credential is checked
before any limit but the client's own: a valid one is never refused because of others'
failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from gateway.accounts.auth_failures import ADMIN_API, UNKNOWN, reason_for
from gateway.accounts.credentials import ADMIN, hash_secret, presented, verify_secret
from gateway.accounts.throttle import Client, client_key, retry_after
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


def client_of(request: Request) -> Client:
    return client_key(request.client.host if request.client else None)


def count_failure(gw: Gateway, provider_id: str, reason: str) -> None:
    gw.auth_failures.add(provider_id, reason, gw.clock.stamp())


def refuse_if_limited(gw: Gateway, counted_as: str, wait: float, reason: str,
                      what: str) -> None:
    """Past a limit (``wait`` seconds to go): count the 429 for the admin under
    ``counted_as`` (an existing provider, UNKNOWN or ADMIN_API) and raise it."""
    if wait:
        count_failure(gw, counted_as, reason)
        raise too_many(wait, what)


def refuse_credential(gw: Gateway, target: str, counted_as: str, client: Client,
                      reason: str) -> None:
    """A credential was refused: count it against the client's, its network's and the
    target's failure limits, and for the admin (under ``reason``, or ``rate_limited`` when
    it is answered 429 because one of those limits was already reached)."""
    refuse_if_limited(gw, counted_as, gw.throttle.failed(target, client), "rate_limited",
                      "failed authentications")
    count_failure(gw, counted_as, reason)


async def authenticate_provider(request: Request, gw: Gateway) -> ProviderRow:
    """The provider of /scim/v2/{provider}/..., if the request's credential is one of its own.

    An unknown provider and a wrong credential get the same answer after the same work. The
    failure limits are keyed by the id the URL named, known or not, so that a limit reached
    on one id says nothing about another.
    """
    pid = request.path_params.get("provider", "")
    client = client_of(request)
    offered = presented(request)
    secret_hash = hash_secret(offered.secret)
    async with gw.store.lookup() as conn:
        version, kept = await gw.checked_credentials.lookup(conn, pid, secret_hash)
        provider, matches = kept if kept is not None else \
            await queries.credential_lookup(conn, pid, secret_hash)
    now = gw.clock.stamp()
    info, counted_as, held = request_info(request.scope), UNKNOWN, NO_CREDENTIALS
    if provider is not None:  # it exists: its metrics count its requests, failures included
        info.provider_id = counted_as = provider.id
        held = matches
    refuse_if_limited(gw, counted_as, gw.throttle.own_wait(client), "rate_limited",
                      "failed authentications")
    live = [c for c in held if c.live(now)]
    principal = await gw.hooks.call("authenticate", request=request,
                                    provider=provider or NO_PROVIDER, credentials=live,
                                    gateway=gw)
    if provider is None or principal is None or principal.provider_id != provider.id:
        refuse_credential(gw, pid, counted_as, client,
                          reason_for(offered, provider, held, now))
        raise Unauthorized(DETAIL)
    request.state.principal = principal
    if kept is None:
        gw.checked_credentials.keep(version, pid, secret_hash, (provider, matches))
    return provider


async def authenticate_admin(request: Request, gw: Gateway) -> None:
    client = client_of(request)
    refuse_if_limited(gw, ADMIN_API, gw.throttle.own_wait(client), "rate_limited",
                      "failed authentications")
    offered = presented(request)
    async with gw.store.lookup() as conn:
        _, matches = await queries.credential_lookup(conn, ADMIN, hash_secret(offered.secret))
    now = gw.clock.stamp()
    if offered.scheme == "bearer" and any(
            c.kind == "admin" and c.live(now) and verify_secret(offered.secret, c.secret_hash)
            for c in matches):
        return
    refuse_credential(gw, ADMIN_API, ADMIN_API, client,
                      reason_for(offered, None, matches, now))
    raise Unauthorized("Admin authentication required: send the admin token as a Bearer token",
                       (CHALLENGES[0],))


# For plugins' own credential endpoints (an OAuth token endpoint), through gateway.plugin. --

def _counted_as(provider: ProviderRow | None) -> str:
    return provider.id if provider is not None else UNKNOWN


def limit_token_request(request: Request, provider: ProviderRow | None) -> None:
    """Count a token request from the client's address (``provider``: the one the URL
    names, None when it names none); raise a 429 ScimError (Retry-After in its headers) when
    the address is over its token limit or its own failed-authentication limit."""
    gw: Gateway = request.app.state.gateway
    client = client_of(request)
    refuse_if_limited(gw, _counted_as(provider), gw.throttle.token_request(client),
                      "token_rate_limited", "token requests")
    refuse_if_limited(gw, _counted_as(provider), gw.throttle.own_wait(client),
                      "rate_limited", "failed authentications")


def auth_failed(request: Request, provider: ProviderRow | None,
                reason: str = "unknown_credential") -> None:
    """Count a refused credential (for example a wrong client secret) against the client's,
    its network's and the provider's failure limits, and for the admin under its reason;
    raise a 429 ScimError instead when one of those limits was already reached (the caller
    answers its own 401 otherwise)."""
    gw: Gateway = request.app.state.gateway
    refuse_credential(gw, request.path_params.get("provider", ""), _counted_as(provider),
                      client_of(request), reason)


def limit_token_issue(request: Request, provider: ProviderRow) -> None:
    """Count a token about to be issued to the provider's authenticated client; raise a 429
    ScimError past ``token_requests_per_provider``. Only a client that authenticated
    counts here, so other clients' requests never hold the provider's tokens back."""
    gw: Gateway = request.app.state.gateway
    refuse_if_limited(gw, provider.id, gw.throttle.token_issue(provider.id),
                      "token_rate_limited", "token requests")
