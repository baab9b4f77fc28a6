"""A real OpenID provider for the console's single sign-on tests: Canaille, a full OAuth2 /
OpenID Connect server built on authlib, started on loopback by pytest-iam's ``iam_server``
fixture (one per test session). Each test registers the gateway as a client of its own and
makes its own users, in groups whose names are its own.

Canaille puts a user's groups (their display names) in the ``groups`` claim when the
``groups`` scope is asked for, as Okta's groups claim does.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"
SCOPES = "openid profile email groups"


@dataclass
class Client:
    client_id: str
    secret: str
    admins: str  # the group names that give each role
    auditors: str
    staff: str  # a group that gives none


def register(iam: Any, redirect_uri: str, audience: list[str] | None = None) -> Client:
    """The gateway as a confidential client of the provider (trusted: no consent page, as
    an admin's consent for the whole company does it), with its three groups."""
    logging.getLogger("canaille").setLevel(logging.WARNING)  # its every request otherwise
    tag = secrets.token_hex(4)
    client = iam.models.Client(
        client_id=f"gateway-{tag}", client_secret=secrets.token_urlsafe(24),
        client_name="identity-gateway console", redirect_uris=[redirect_uri],
        client_uri=redirect_uri.split("/console")[0], grant_types=["authorization_code"],
        response_types=["code"], scope=SCOPES.split(),
        token_endpoint_auth_method="client_secret_basic")
    iam.backend.save(client)
    client.audience = [client]
    if audience:
        client.audience = [other(iam, name) for name in audience]
    iam.backend.save(client)
    return Client(client.client_id, client.client_secret, f"admins-{tag}",
                  f"auditors-{tag}", f"staff-{tag}")


def other(iam: Any, client_id: str) -> Any:
    """Another application registered at the provider (an audience that is not ours)."""
    found = iam.models.Client(client_id=client_id, client_name=client_id,
                              redirect_uris=["https://elsewhere.example/cb"],
                              grant_types=["authorization_code"], response_types=["code"],
                              scope=["openid"])
    iam.backend.save(found)
    return found


def user(iam: Any, name: str, *groups: str) -> Any:
    """A user of the provider whose preferred_username is ``name``, in those groups."""
    found = iam.random_user(user_name=name, display_name=name, password=PASSWORD,
                            emails=[f"{name}@example.com"])
    move(iam, found, *groups)
    return found


def move(iam: Any, person: Any, *groups: str) -> None:
    """Put the user in exactly these groups (created as needed), as an IdP admin would."""
    for group in iam.backend.query(iam.models.Group):
        if person in group.members and group.display_name not in groups:
            group.members = [m for m in group.members if m != person]
            iam.backend.save(group)
    for name in groups:
        found = iam.backend.query(iam.models.Group, display_name=name)
        if found:
            group = found[0]
            if person not in group.members:
                group.members = [*group.members, person]
                iam.backend.save(group)
        else:
            iam.random_group(display_name=name, members=[person])


def settings(iam: Any, client: Client, **extra: Any) -> dict:
    """[console.sso] for that client."""
    return {"issuer": iam.url, "client_id": client.client_id,
            "client_secret": client.secret, "name": "Canaille", "scopes": SCOPES,
            "admin_values": [client.admins], "auditor_values": [client.auditors], **extra}


def toml(values: dict) -> str:
    lines = ["[console.sso]"]
    for key, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def authorize(iam: Any, url: str, person: Any) -> str:
    """The provider's answer to an authorization request for a user already signed in to
    it: the redirect back to the gateway (its Location)."""
    iam.login(person)
    try:
        answer = httpx.get(url, timeout=10)
    finally:
        iam.logout()
    assert answer.status_code in (302, 303), answer.text[:500]
    return answer.headers["location"]
