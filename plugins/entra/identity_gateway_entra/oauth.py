"""OAuth 2.0 client credentials for Entra: the gateway is the authorization server.

The admin creates an Entra provider with ``auth = "oauth"``: the gateway issues a client id
and a client secret (shown once, only its hash stored). Entra posts them to the provider's
token endpoint, ``{base URL}/oauth/token`` (``grant_type=client_credentials``, client
authentication by HTTP Basic or form fields), and gets a short-lived access token that it
sends as a Bearer token on SCIM requests. Access tokens are stored as hashes with an expiry
(kind ``oauth_access``); rotating the provider revokes the client secret and every token.

authlib does the protocol: its ``AuthorizationServer`` with the ``ClientCredentialsGrant``
validates the request and authenticates the client (``client_secret_basic`` and
``client_secret_post``), its ``BearerTokenGenerator`` and ``generate_token`` make the token,
its ``OAuth2Error`` classes are the error answers. authlib is synchronous, so the provider's
credentials are read before it runs and the token it issued is stored after.
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.common.security import generate_token
from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.plugin import (
    GatewayError,
    IssuedCredential,
    Principal,
    auth_failed,
    hash_secret,
    limit_token_issue,
    limit_token_request,
    parse_duration,
    read_form,
    verify_secret,
)

CLIENT_KIND = "oauth"
ACCESS_KIND = "oauth_access"
DEFAULT_LIFETIME = "1h"
MAX_FORM_BYTES = 8192
NO_SECRET = "sha256$" + "0" * 64  # the hash of no secret


def issue_client(secret: str, client_id: str | None, token_endpoint: str) -> IssuedCredential:
    """A client id (kept across rotations) and a fresh client secret, shown once, with the
    token endpoint Entra's provisioning form asks for."""
    client_id = client_id or f"entra-{secrets.token_hex(8)}"
    return IssuedCredential(CLIENT_KIND, hash_secret(secret), client_id,
                            [("Client ID", client_id), ("Client secret", secret),
                             ("Token endpoint", token_endpoint)])


def bearer(request: Any) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate(request: Any, credentials: list) -> Principal | None:
    """The access token's principal, if the request carries a live one. ``credentials`` are
    already only the unexpired, unrevoked ones; every candidate is compared."""
    token = bearer(request)
    if token is None:
        return None
    found = None
    for cred in credentials:
        if cred.kind == ACCESS_KIND and verify_secret(token, cred.secret_hash):
            found = Principal(cred.provider_id, cred.id, cred.kind)
    return found


class Client(ClientMixin):
    """One provider's OAuth client, as authlib sees it."""

    def __init__(self, client_id: str, secret_hash: str) -> None:
        self.client_id, self.secret_hash = client_id, secret_hash

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        return ""  # a token grants this provider's SCIM API; scopes are not used


class Grant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class FormRequest(OAuth2Request):
    def __init__(self, method: str, headers: Any, form: dict) -> None:
        # The URI only feeds authlib's HTTPS check; TLS ends in front of the gateway.
        super().__init__(method, "https://gateway.invalid/oauth/token", headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict:
        return self._form


class TokenServer(AuthorizationServer):
    """An authorization server for one request: one provider's clients, tokens collected."""

    def __init__(self, clients: list[Client], lifetime: int) -> None:
        super().__init__()
        self.clients = clients
        self.issued: list[dict] = []
        self.register_grant(Grant)
        self.register_token_generator("default", BearerTokenGenerator(
            lambda **_: generate_token(48), expires_generator=lifetime))

    def query_client(self, client_id: str) -> Client:
        # An unknown client id is checked against a secret nobody has, so that it is refused
        # after the same work as a wrong secret (and with the same invalid_client).
        return next((c for c in self.clients if c.client_id == client_id),
                    Client(client_id, NO_SECRET))

    def save_token(self, token: dict, request: Any) -> None:
        self.issued.append(token)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list) -> tuple:
        return status, body, headers


def answer(status: int, body: Any, headers: list) -> Response:
    extra = {k: v for k, v in headers if k.lower() != "content-type"}
    return JSONResponse(body, status_code=status, headers=extra)


def error(exc: OAuth2Error) -> Response:
    return answer(*exc())


async def token_form(request: Request) -> dict:
    """The token request's parameters, read through the gateway's one body reader (which
    stops at MAX_FORM_BYTES however the body comes)."""
    try:
        pairs = await read_form(request, MAX_FORM_BYTES)
    except GatewayError as exc:
        # RFC 6749 5.2 answers a malformed request 400; only "too large" keeps its 413.
        raise RequestRefused(exc.detail, 413 if exc.status == 413 else 400) from None
    form = dict(pairs)
    if len(form) != len(pairs):  # RFC 6749 3.2: parameters must not repeat
        raise RequestRefused("A parameter is repeated")
    return form


class RequestRefused(InvalidRequestError):
    """invalid_request, in OAuth's error shape, with a status of its own (413 too large)."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.status_code = status


def lifetime_of(gw: Any) -> int:
    """Access-token lifetime in seconds: ``[entra] access_token_lifetime`` (default 1h)."""
    raw = gw.plugin_config("entra").get("access_token_lifetime", DEFAULT_LIFETIME)
    return max(1, int(parse_duration(raw)))


def slow_down(exc: GatewayError) -> Response:
    return answer(exc.status, {"error": "slow_down", "error_description": exc.detail},
                  list(exc.headers.items()))


async def token_endpoint(request: Request) -> Response:
    """POST {base}/oauth/token: client credentials in, a Bearer access token out.

    The client secret is checked before any limit but the address's own: a valid one is
    never refused because other clients failed (their failures are answered 429 once past
    the limits), and only tokens issued to the provider's client count against the
    provider's token limit."""
    gw = request.app.state.gateway
    provider, credentials = await gw.provider_credentials(request.path_params["provider"],
                                                          [CLIENT_KIND])
    try:
        limit_token_request(request, provider)
    except GatewayError as exc:
        return slow_down(exc)
    try:
        form = await token_form(request)
    except OAuth2Error as exc:
        return error(exc)
    clients = []
    if provider is not None and provider.plugin == "entra":
        clients = [Client(c.username, c.secret_hash) for c in credentials
                   if c.kind == CLIENT_KIND and c.username]
    lifetime = lifetime_of(gw)
    server = TokenServer(clients, lifetime)
    status, body, headers = server.create_token_response(
        FormRequest(request.method, request.headers, form))
    issued = status == 200 and server.issued and provider is not None
    try:
        if isinstance(body, dict) and body.get("error") == "invalid_client":
            auth_failed(request, provider)
        if issued:
            limit_token_issue(request, provider)
    except GatewayError as exc:
        return slow_down(exc)
    if issued:
        await gw.add_credential(provider.id, ACCESS_KIND,
                                hash_secret(server.issued[0]["access_token"]),
                                expires_in=lifetime)
    return answer(status, body, headers or default_json_headers)
