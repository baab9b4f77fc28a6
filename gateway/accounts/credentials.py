"""Secrets and the built-in credential kinds (bearer token, HTTP Basic).

Every secret the gateway issues is 32 random bytes, shown once and stored only as a SHA-256
hash. A slow password hash would add nothing here: nobody can guess 256 random bits, and the
gateway never accepts a secret chosen by a person.

A request's credential is found by the hash of the secret it presents, in one indexed query
(``credentials_hash``), not by comparing it with every live credential of the provider: an
Entra provider holds one live access token per token request, and a scan of thousands of
them on every SCIM request is what made GET slow and made a wrong token cost more on an
existing provider than on an unknown one. Looking up by hash gives nothing away that a
constant-time comparison would have kept: the index compares SHA-256 digests, so the time it
takes can tell an attacker at most how many leading bytes of the *digest* of their guess
match a stored digest, and choosing guesses whose digests share a prefix tells them nothing
about the secret (that would take a preimage). The row the index finds is still compared in
constant time (``verify_secret``, ``hmac.compare_digest``), and so is a Basic username, so
each plugin's ``authenticate`` keeps the one rule: compare secrets only with
``verify_secret``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

import msgspec
from starlette.requests import HTTPConnection

from gateway.hookspecs import every_provider, hookimpl
from gateway.store import providers as queries
from gateway.store.base import Conn, CredentialRow, ProviderRow

ADMIN = ""  # the provider_id of admin credentials


class Principal(msgspec.Struct, frozen=True):
    """Who made a request: a provider's credential, or the admin."""

    provider_id: str
    credential_id: str
    kind: str


class IssuedCredential(msgspec.Struct, frozen=True):
    """What issue_credential returns: the row to store and the lines to show once."""

    kind: str
    secret_hash: str
    username: str | None
    shown: list[tuple[str, str]]  # ("Bearer token", "..."): printed once, never stored
    expires_at: str | None = None


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def verify_secret(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())


class Presented(msgspec.Struct, frozen=True):
    """What a request's Authorization header offers: its scheme ("" when there is none;
    "bearer", "basic", or another scheme in lower case), the secret it carries (a bearer
    token, a Basic password; "" when none), and a Basic username."""

    scheme: str
    secret: str = ""
    username: str | None = None


def presented(request: Any) -> Presented:
    header = request.headers.get("authorization", "").strip()
    if not header:
        return Presented("")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return Presented(scheme, value.strip())
    pair = basic_credentials(request) if scheme == "basic" else None
    if pair is not None:
        return Presented(scheme, pair[1], pair[0])
    return Presented(scheme)


def bearer_token(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def basic_credentials(request: Any) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def match_bearer(token: str, credentials: list[CredentialRow],
                 kinds: set[str]) -> Principal | None:
    """The credential whose hash the token matches; every candidate is compared."""
    found = None
    for cred in credentials:
        if cred.kind in kinds and verify_secret(token, cred.secret_hash):
            found = Principal(cred.provider_id, cred.id, cred.kind)
    return found


class BuiltinAuth:
    """The core's own credential kinds, registered as an ordinary plugin."""

    @hookimpl
    def credential_kinds(self) -> list:
        return ["bearer", "basic"]

    @hookimpl
    @every_provider
    def issue_credential(self, provider: Any, kind: str, secret: str,
                         username: str | None) -> IssuedCredential | None:
        if kind == "bearer":
            return IssuedCredential("bearer", hash_secret(secret), None,
                                    [("Bearer token", secret)])
        if kind == "basic":
            user = username or f"scim-{secrets.token_hex(6)}"
            return IssuedCredential("basic", hash_secret(secret), user,
                                    [("Username", user), ("Password", secret)])
        return None

    @hookimpl(trylast=True)
    @every_provider
    def authenticate(self, request: Any, provider: Any, credentials: list) -> Principal | None:
        token = bearer_token(request)
        if token is not None:
            return match_bearer(token, credentials, {"bearer"})
        pair = basic_credentials(request)
        if pair is not None:
            username, password = pair
            found = None
            for cred in credentials:
                if cred.kind != "basic" or cred.username is None:
                    continue
                name_ok = hmac.compare_digest(cred.username.encode(), username.encode())
                if verify_secret(password, cred.secret_hash) and name_ok:
                    found = Principal(cred.provider_id, cred.id, cred.kind)
            return found
        return None


Lookup = tuple[ProviderRow | None, list[CredentialRow]]
REMEMBERED = 4096  # credential checks a process keeps at most (then it starts over)


class CheckedCredentials:
    """The credential lookups that let a request in, kept per process so that the next
    request with the same provider and secret reads one counter row instead of the join.

    The counter (``credential_version``) moves with every change of a provider or a
    credential, by triggers in the store, whichever process or replica makes it: every
    request reads it, and a change empties what was kept, so a rotated or revoked
    credential is refused at the next request everywhere, as without the cache. What is
    kept is the rows, not the verdict: expiry is still compared with the clock and the
    ``authenticate`` hooks still check each request. Only lookups that ended in success are
    kept, so a refusal costs the same query for an unknown id as for a known one.
    """

    def __init__(self) -> None:
        self._version: int | None = None
        self._kept: dict[tuple[str, str], Lookup] = {}

    async def lookup(self, conn: Conn, provider_id: str, secret_hash: str
                     ) -> tuple[int, Lookup | None]:
        """The counter now, and the lookup kept for this provider and secret under it."""
        version = await queries.credential_version(conn)
        if version != self._version:
            self._kept.clear()
            self._version = version
        return version, self._kept.get((provider_id, secret_hash))

    def keep(self, version: int, provider_id: str, secret_hash: str, found: Lookup) -> None:
        """Remember a lookup that let a request in, read under counter ``version``."""
        if version != self._version:
            return
        if len(self._kept) >= REMEMBERED:
            self._kept.clear()
        self._kept[(provider_id, secret_hash)] = found
