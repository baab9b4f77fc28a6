"""A provider's connection state in words: what arrived (the IdP's own test by name), why
credentials were refused, the state in one sentence. accounts.providers.connection reads
the state and says it with these words, for the admin API, the CLI and the console."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.observability.middleware import SCIM_PREFIX
from gateway.store.base import ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway

REASONS = {
    "no_credential": "no credential was sent",
    "wrong_scheme": "the credential was of the wrong type (Basic where Bearer is expected, "
                    "or the reverse)",
    "unknown_credential": "the secret is not this provider's current one (mistyped, or "
                          "from before a rotation)",
    "expired_token": "the access token had expired",
    "rate_limited": "refused for too many failed attempts",
    "token_rate_limited": "refused for too many token requests",
}
FILTERED = re.compile(r"[?&]filter=([A-Za-z][\w.:$-]*)")
KINDS = {"Users": ("user", "users"), "Groups": ("group", "groups")}
DISCOVERY = ("/ServiceProviderConfig", "/Schemas", "/ResourceTypes")


def in_words(gw: Gateway, provider: ProviderRow, found: dict) -> dict:
    """The connection state (accounts.providers.connection) with its words: the request
    ``described`` (the IdP's own test when its plugin names it), each refusal's reason
    ``explained``, and the whole in one sentence (``summary``)."""
    request, refused = found["request"], found["refused"]
    if request is not None:
        request = {**request, "described": describe(request["method"], request["route"],
                                                    request["request"] or "",
                                                    probes(gw, provider))}
    if refused is not None:
        refused = {**refused, "explained": {r: reason_text(r) for r in refused["reasons"]}}
    worded = {**found, "request": request, "refused": refused}
    return {**worded, "summary": summary(worded)}


def probes(gw: Gateway, provider: ProviderRow) -> list[tuple[str, str]]:
    """What the provider's plugin says its IdP's own tests look like (``request_probes``)."""
    return [probe for batch in gw.hooks.call_sync("request_probes", provider=provider)
            for probe in batch]


def describe(method: str, route: str, excerpt: str,
             probes: Sequence[tuple[str, str]] = ()) -> str:
    """A request in words: the IdP's own test when one of its ``probes`` (a regular
    expression on the excerpt, and what it is) matches, else what the request asked."""
    for pattern, text in probes:
        if re.search(pattern, excerpt):
            return text
    below = route.removeprefix(SCIM_PREFIX)
    parts = [part for part in below.split("/") if part]
    if parts and parts[0] in KINDS:
        one, many = KINDS[parts[0]]
        if len(parts) == 1:
            if method == "POST":
                return f"Created a {one}"
            found = FILTERED.search(excerpt)
            if found:
                return f"Looked up {many} by {found.group(1)}"
            return f"Read a page of {many}"
        if parts[1] == ".search":
            return f"Searched {many}"
        return {"GET": f"Read a {one}", "PUT": f"Replaced a {one}",
                "PATCH": f"Changed a {one}", "DELETE": f"Deleted a {one}"}.get(
                    method, f"Sent {method} about a {one}")
    if below.startswith(DISCOVERY):
        return "Read the gateway's SCIM configuration"
    if below == "/Bulk":
        return "Sent a bulk request"
    if below == "/.search":
        return "Searched users and groups"
    if below.endswith("/token"):
        return "Asked for an access token"
    return f"Sent a {method} request"


def reason_text(reason: str) -> str:
    return REASONS.get(reason, reason.replace("_", " "))


def summary(found: dict) -> str:
    """The state in one sentence, as the CLI prints it."""
    since = f"the current credential was issued ({found['since']})"
    if found["state"] == "waiting":
        return f"Waiting: no request has arrived since {since}."
    if found["state"] == "refused":
        refused = found["refused"]
        why = "; ".join(f"{reason_text(r)} ({n})" for r, n in refused["reasons"].items())
        count = refused["count"]
        return (f"Refused: {count} request{'s' if count != 1 else ''} arrived since {since} "
                f"but {'its' if count == 1 else 'their'} credential was refused, the last at "
                f"{refused['at']}" + (f". Why: {why}." if why else "."))
    request = found["request"]
    if request is None:  # its last request was before a success of the same credential
        return f"Connected: a request authenticated at {found['success_at']}."
    return (f"Connected: {request['described']}, at {request['at']} "
            f"({request['request']}, answered {request['status']}).")
