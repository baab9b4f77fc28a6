"""The console's OpenID Connect relying party: discovery, the signing keys, the authorization
request (code flow with PKCE S256, state and nonce), the code exchange and the ID token's
checks.

authlib builds the requests (``prepare_grant_uri``, ``prepare_token_request``, its client
authentication and the PKCE challenge) and checks the ID token's claims (``CodeIDToken``:
``iss``, ``aud``, ``azp``, ``exp``, ``iat``, ``nonce``, ``at_hash``); joserfc, authlib's JOSE
library, checks the signature against the issuer's JWKS. Only asymmetric algorithms are
accepted, whatever the discovery document lists (Canaille and others list ``none``).

Discovery and the JWKS are fetched with a bounded timeout and kept per issuer in the
process: the document for an hour, the keys until a token names a key id they lack, when
they are fetched again (at most once every ``REFETCH`` seconds, so a stream of such tokens
does not make the gateway hammer the issuer). A failed discovery is remembered for
``RETRY`` seconds: the sign-in page says single sign-on is unavailable instead of waiting.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import msgspec
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from gateway.errors import GatewayError
from gateway.settings import SsoSettings

TIMEOUT = 5.0  # seconds for each request to the identity provider
DISCOVERY_TTL = 3600.0
RETRY = 30.0  # seconds a failed discovery is remembered
REFETCH = 60.0  # the JWKS is fetched again for an unknown key id at most this often
LEEWAY = 60  # seconds of clock skew tolerated on exp and iat
MAX_ANSWER = 1024 * 1024  # bytes of a discovery, JWKS or token answer
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")
WELL_KNOWN = "/.well-known/openid-configuration"


class Unavailable(GatewayError):
    """The identity provider cannot be reached or answered something unusable."""

    status = 503


class TokenRefused(GatewayError):
    """The code exchange failed or the ID token did not pass its checks."""

    status = 403


class Metadata(msgspec.Struct, kw_only=True):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    id_token_signing_alg_values_supported: list[str] = msgspec.field(
        default_factory=lambda: ["RS256"])
    token_endpoint_auth_methods_supported: list[str] = msgspec.field(
        default_factory=lambda: ["client_secret_basic"])
    code_challenge_methods_supported: list[str] | None = None


class Request(msgspec.Struct, frozen=True):
    """An authorization request about to be sent: where to send the browser and what the
    callback must find again."""

    url: str
    state: str
    nonce: str
    verifier: str


def same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


async def get_json(url: str) -> Any:
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as http:
        response = await http.get(url, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise Unavailable(f"{url} answered {response.status_code}")
    if len(response.content) > MAX_ANSWER:
        raise Unavailable(f"{url} answered more than {MAX_ANSWER} bytes")
    return msgspec.json.decode(response.content)


class Issuer:
    """What this process knows of one issuer: its discovery document and its keys."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.metadata: Metadata | None = None
        self.loaded_at = 0.0
        self.failed: str | None = None  # why the last discovery failed
        self.failed_at = 0.0
        self.keys: KeySet | None = None
        self.keys_at = 0.0

    def known_down(self) -> str | None:
        """Why the issuer could not be reached, if it could not within RETRY seconds."""
        recent = time.monotonic() - self.failed_at < RETRY
        return self.failed if self.failed and recent else None

    async def discover(self) -> Metadata:
        fresh = time.monotonic() - self.loaded_at < DISCOVERY_TTL
        if self.metadata is not None and fresh:
            return self.metadata
        down = self.known_down()
        if down:
            raise Unavailable(down)
        url = self.issuer.rstrip("/") + WELL_KNOWN
        try:
            found = msgspec.convert(await get_json(url), Metadata)
            if not same_issuer(found.issuer, self.issuer):
                raise Unavailable(f"{url} names the issuer '{found.issuer}', not "
                                  f"'{self.issuer}'")
            methods = found.code_challenge_methods_supported
            if methods is not None and "S256" not in methods:
                raise Unavailable(f"{self.issuer} does not offer PKCE with S256")
        except (httpx.HTTPError, msgspec.MsgspecError, Unavailable) as exc:
            self.failed = describe(exc, url)
            self.failed_at = time.monotonic()
            raise Unavailable(self.failed) from None
        self.metadata, self.loaded_at, self.failed = found, time.monotonic(), None
        return found

    async def key_set(self, metadata: Metadata, refresh: bool = False) -> KeySet:
        if self.keys is not None and not refresh:
            return self.keys
        if self.keys is not None and time.monotonic() - self.keys_at < REFETCH:
            return self.keys  # fetched moments ago: an unknown key id stays unknown
        try:
            self.keys = KeySet.import_key_set(await get_json(metadata.jwks_uri))
        except (httpx.HTTPError, msgspec.MsgspecError, JoseError, ValueError) as exc:
            raise Unavailable(describe(exc, metadata.jwks_uri)) from None
        self.keys_at = time.monotonic()
        return self.keys


def describe(exc: Exception, url: str) -> str:
    if isinstance(exc, GatewayError):
        return exc.detail
    if isinstance(exc, httpx.TimeoutException):
        return f"{url} did not answer within {TIMEOUT:g}s"
    if isinstance(exc, httpx.HTTPError):
        return f"{url} could not be reached ({type(exc).__name__}: {exc})"
    return f"{url} answered something that is not an OpenID Connect document ({exc})"


def authorization_request(sso: SsoSettings, metadata: Metadata, redirect_uri: str,
                          state: str, nonce: str, verifier: str) -> Request:
    url = prepare_grant_uri(
        metadata.authorization_endpoint, sso.client_id, "code", redirect_uri, sso.scopes,
        state, nonce=nonce, code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256")
    return Request(url=url, state=state, nonce=nonce, verifier=verifier)


def auth_method(metadata: Metadata) -> str:
    offered = metadata.token_endpoint_auth_methods_supported
    return "client_secret_basic" if "client_secret_basic" in offered else "client_secret_post"


async def exchange(sso: SsoSettings, metadata: Metadata, code: str, verifier: str,
                   redirect_uri: str) -> dict:
    """The token endpoint's answer to the code (with the PKCE verifier)."""
    body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri,
                                 code_verifier=verifier)
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Accept": "application/json"}
    auth = ClientAuth(sso.client_id, sso.client_secret or "", auth_method(metadata))
    uri, headers, body = auth.prepare("POST", metadata.token_endpoint, headers, body)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as http:
            response = await http.post(uri, headers=headers, content=body)
        answer = msgspec.json.decode(response.content[:MAX_ANSWER])
    except httpx.HTTPError as exc:
        raise Unavailable(describe(exc, metadata.token_endpoint)) from None
    except msgspec.DecodeError:
        raise TokenRefused(f"the token endpoint answered {response.status_code} without "
                           "JSON") from None
    if response.status_code != 200 or not isinstance(answer, dict) or "error" in answer:
        error = answer.get("error") if isinstance(answer, dict) else None
        said = answer.get("error_description") if isinstance(answer, dict) else None
        raise TokenRefused(f"the identity provider refused the code: {error or 'no error'}"
                           f"{f' ({said})' if said else ''}")
    if not isinstance(answer.get("id_token"), str):
        raise TokenRefused("the identity provider's answer has no ID token (is 'openid' "
                           "among the scopes?)")
    return answer


async def verify(sso: SsoSettings, issuer: Issuer, metadata: Metadata, answer: dict,
                 nonce: str, now: int) -> dict:
    """The ID token's claims, once its signature (against the issuer's keys, fetched again
    for an unknown key id), issuer, audience, authorized party, expiry, issue time and
    nonce are checked."""
    allowed = [a for a in metadata.id_token_signing_alg_values_supported if a in ALGORITHMS]
    registry = JWSRegistry(algorithms=allowed or ["RS256"], strict_check_header=False)
    keys = await issuer.key_set(metadata)
    try:
        try:
            token = jwt.decode(answer["id_token"], keys, registry=registry)
        except InvalidKeyIdError:
            keys = await issuer.key_set(metadata, refresh=True)
            token = jwt.decode(answer["id_token"], keys, registry=registry)
        options = {"iss": {"essential": True, "value": metadata.issuer},
                   "aud": {"essential": True, "values": [sso.client_id]}}
        params = {"nonce": nonce, "client_id": sso.client_id,
                  "access_token": answer.get("access_token")}
        claims = CodeIDToken(token.claims, token.header, options, params)
        claims.validate(now=now, leeway=LEEWAY)
    except (JoseError, ValueError) as exc:
        raise TokenRefused(f"The ID token was refused: {reason(exc)}") from None
    if not isinstance(claims.get("nonce"), str):
        raise TokenRefused("the ID token was refused: it has no nonce")
    return dict(claims)


def reason(exc: Exception) -> str:
    """joserfc's errors as a reader wants them: the claim and what is wrong with it."""
    if isinstance(exc, JoseError):
        return exc.description or exc.error
    return str(exc)
