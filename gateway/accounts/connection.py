"""A provider's connection state, in words: whether its IdP has reached the gateway with
the current credential (waiting, refused and why, connected and with what). The admin API,
the CLI and the console's connection check all read it here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.accounts import auth_failures
from gateway.observability import activity
from gateway.observability.middleware import SCIM_PREFIX
from gateway.store import providers as queries
from gateway.store.base import Conn, ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway

REFUSED_STATUSES = (401, 429)  # answers that say the request did not authenticate
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


def _at_or_after(moment: str | None, since: str) -> bool:
    return moment is not None and moment >= since


async def connection(gw: Gateway, provider: ProviderRow, conn: Conn | None = None) -> dict:
    """Whether the provider's IdP has reached the gateway with its current credential,
    issued at ``since`` (the provider's creation or its last rotation):

    - ``connected``: a request authenticated since then (``request``: the provider's last
      request, ``success_at``: its last success);
    - ``refused``: requests arrived since then but their credential was refused (a wrong
      secret, or one from before the rotation): ``refused`` counts them by reason;
    - ``waiting``: nothing has arrived since then.

    The request is ``described`` in words, each refusal's reason ``explained``, and the
    whole said in one sentence (``summary``). Two index reads, and what this process has
    not written yet: the console's connection check polls it."""
    async with activity.reading(gw, conn) as reader:
        since = await queries.credential_issued_at(reader, provider.id) or provider.created_at
        last = await activity.last_seen(gw, provider.id, reader)
        reasons = await auth_failures.refused_since(gw, provider.id,
                                                    auth_failures.minute_of(since), reader)
    request = None
    if _at_or_after(last.get("request_at"), since):
        request = {"at": last["request_at"], "request": last["excerpt"],
                   "method": last["method"], "route": last["route"],
                   "status": last["status"],
                   "described": describe(last["method"], last["route"], last["excerpt"] or "",
                                         probes(gw, provider))}
    success_at = last.get("success_at") if _at_or_after(last.get("success_at"), since) \
        else None
    authenticated = request is not None and request["status"] not in REFUSED_STATUSES \
        and request["status"] < 500
    # Failures are counted per minute: those of the minute the credential was issued may
    # predate it, so they count only when the request log saw one after it.
    seen_refused = (_at_or_after(last.get("error_at"), since)
                    and last.get("error_status") in REFUSED_STATUSES)
    if not seen_refused:
        reasons = {r: v for r, v in reasons.items() if v["last"] > auth_failures.minute_of(since)}
    refused = None
    if reasons or seen_refused:
        refused = {"count": max(sum(v["count"] for v in reasons.values()), 1),
                   "reasons": {r: v["count"] for r, v in sorted(reasons.items())},
                   "explained": {r: reason_text(r) for r in sorted(reasons)},
                   "at": last["error_at"] if seen_refused
                   else max(v["last"] for v in reasons.values())}
    state = ("connected" if success_at or authenticated
             else "refused" if refused else "waiting")
    found = {"provider_id": provider.id, "state": state, "since": since, "request": request,
             "success_at": success_at, "refused": refused}
    return {**found, "summary": summary(found)}


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
