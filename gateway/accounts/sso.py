"""Console sign-in through the company's identity provider (OpenID Connect): the
configuration in force, starting a sign-in, and what a callback becomes (a console account
with the role its claims give, or a refusal saying why).

A sign-in's ``state``, ``nonce`` and PKCE verifier stay on the server (``sso_states``), bound
to the browser by the hash of its pre-sign-in cookie; the callback takes the row with the
statement that deletes it, so a state is good once. The first sign-in of an identity (the ID
token's ``iss`` and ``sub``) creates its account, named after ``preferred_username`` or
``email``; every sign-in reads the role from ``roles_claim`` again, so a group removed at the
identity provider takes effect at the next sign-in. Sign-ins, refusals (once a state of this
gateway came back) and role changes are in the sync log, with the actor ``console:<name>``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.accounts import admins, oidc
from gateway.clock import format_time
from gateway.context import admin_context
from gateway.errors import GatewayError
from gateway.events.synclog_write import log_entry
from gateway.settings import ConfigError, SsoSettings, read_sso
from gateway.store import admins as queries
from gateway.store import sso as states
from gateway.store.admins import SSO, AdminRow
from gateway.store.base import Conn
from gateway.store.sso import StateRow

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.sso")
STATE_LIFETIME = timedelta(minutes=10)  # from the click to the identity provider's answer
CALLBACK = "/console/sso/callback"
ACCOUNT = admins.ACCOUNT
SIGN_IN, ROLE_CHANGE = "console_sign_in", "console_role_change"
PAGE = "the Settings page:"  # where a saved configuration's mistakes are said to be


class Refused(GatewayError):
    """A sign-in the gateway will not complete; the detail says why, for the person."""

    status = 403


class Config(msgspec.Struct, frozen=True):
    """The single sign-on in force: its settings (None: off or unusable), where they come
    from ('file', 'console' or None) and, when unusable, why."""

    sso: SsoSettings | None
    source: str | None
    problem: str | None = None
    saved: dict | None = None  # the Settings page's values, as saved


class Result(msgspec.Struct, frozen=True):
    """A callback that came through: the claims, the role they give (None: none), and for a
    sign-in the account it signed in."""

    claims: dict
    role: str | None
    test: bool
    account: AdminRow | None = None


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def config(gw: Gateway) -> Config:
    if gw.settings.console_sso is not None:
        return Config(gw.settings.console_sso, "file")
    async with gw.store.lookup() as conn:
        saved = await states.get_config(conn)
    if saved is None:
        return Config(None, None)
    try:
        return Config(read_sso(saved["settings"], PAGE), "console", saved=saved)
    except ConfigError as exc:
        return Config(None, "console", exc.detail, saved)


def issuer_of(gw: Gateway, sso: SsoSettings) -> oidc.Issuer:
    found = gw.oidc.get(sso.issuer)
    if found is None:
        found = gw.oidc[sso.issuer] = oidc.Issuer(sso.issuer)
    return found


def redirect_uri(gw: Gateway) -> str:
    return gw.settings.public_url + CALLBACK


def unavailable(gw: Gateway, found: Config) -> str | None:
    """Why single sign-on cannot be used now (a mistake in its settings, or an issuer that
    could not be reached moments ago), or None."""
    if found.problem:
        return found.problem
    return issuer_of(gw, found.sso).known_down() if found.sso else None


def password_refused(found: Config, name: str) -> str | None:
    """Why a password sign-in as ``name`` is refused before anything is checked: single
    sign-on only, and the name is not a break-glass account."""
    if found.sso is not None:
        only, glass, label = found.sso.only, found.sso.break_glass, found.sso.label
    elif found.saved is not None:  # saved but unusable now: SSO-only still holds
        saved = found.saved["settings"]
        only, glass, label = saved.get("only") is True, saved.get("break_glass") or [], \
            "single sign-on"
    else:
        return None
    if not only or name.strip().lower() in glass:
        return None
    return (f"Password sign-in is turned off: sign in with {label}. (Only the break-glass "
            "accounts may use a password.)")


async def log_break_glass(gw: Gateway, found: Config, name: str) -> None:
    """A password sign-in while single sign-on only holds (a break-glass account): in the
    sync log, so that its use is seen."""
    if password_refused(found, "") is None:
        return
    async with gw.store.write() as conn:
        await log_entry(gw, conn, admin_context(admins.actor(name)), operation=SIGN_IN,
                        resource_type=ACCOUNT, resource_id=name,
                        detail="break-glass password sign-in (single sign-on only)")


async def probe(gw: Gateway, say: bool = True) -> None:
    """At start: discover the issuer, so that the sign-in page can tell at once when it
    cannot be reached; and one line when single sign-on is set up but cannot be used, so
    the operator sees it before an admin does (``say``: the first of serve's workers says
    it, the others keep quiet). Password sign-in is not held back."""
    found = await config(gw)
    if found.problem:
        if say:
            log.warning("console single sign-on is off until its settings are fixed: %s",
                        found.problem)
        return
    if found.sso is None:
        return
    try:
        await issuer_of(gw, found.sso).discover()
    except oidc.Unavailable as exc:
        if say:
            log.warning("console single sign-on: %s; sign-in with %s is unavailable until "
                        "the issuer answers (password sign-in works)", exc.detail,
                        found.sso.label)


async def start(gw: Gateway, sso: SsoSettings, browser: str, next_path: str,
                admin: str | None = None) -> str:
    """A new sign-in at the identity provider: where to send the browser. ``browser`` is
    its pre-sign-in cookie; ``admin`` the account running a test sign-in."""
    metadata = await issuer_of(gw, sso).discover()
    request = oidc.authorization_request(
        sso, metadata, redirect_uri(gw), secrets.token_urlsafe(32), secrets.token_urlsafe(32),
        secrets.token_urlsafe(48))
    now = gw.clock.now()
    row = StateRow(state_hash=digest(request.state), browser_hash=digest(browser),
                   nonce=request.nonce, verifier=request.verifier, next=next_path, admin=admin,
                   expires_at=format_time(now + STATE_LIFETIME))
    async with gw.store.write() as conn:
        await states.insert_state(conn, row, format_time(now))
    return request.url


async def take(gw: Gateway, state: str, browser: str | None) -> StateRow:
    """The sign-in a callback's state belongs to, used up; refused when the state is
    unknown, used already, expired, or was started by another browser."""
    async with gw.store.write() as conn:
        row = await states.take_state(conn, digest(state)) if state else None
    if row is None:
        raise Refused("This sign-in link has been used already or is unknown; start again "
                      "from the sign-in page", 400)
    if not browser or not hmac.compare_digest(row.browser_hash, digest(browser)):
        raise Refused("This sign-in did not start in this browser (its pre-sign-in cookie "
                      "is missing or different); start again from the sign-in page", 400)
    if row.expires_at <= gw.clock.stamp():
        raise Refused("This sign-in took longer than "
                      f"{int(STATE_LIFETIME.total_seconds() // 60)} minutes; start again", 400)
    return row


async def finish(gw: Gateway, sso: SsoSettings, params: dict[str, str], row: StateRow,
                 session_admin: str | None) -> Result:
    """The identity provider's answer to a sign-in whose state was taken: the code exchanged
    and the ID token checked; then, for a sign-in, the account; for a test, only what the
    claims would give."""
    test = row.admin is not None
    issuer = issuer_of(gw, sso)
    try:
        if test and session_admin != row.admin:
            raise Refused("This test sign-in was started by another console session", 400)
        if params.get("error"):
            said = params.get("error_description")
            raise Refused(f"The identity provider did not sign you in: {params['error']}"
                          f"{f' ({said})' if said else ''}")
        metadata = await issuer.discover()
        if params.get("iss") and params["iss"] != metadata.issuer:
            raise Refused(f"The answer names the issuer '{params['iss']}', not "
                          f"'{metadata.issuer}'")
        answer = await oidc.exchange(sso, metadata, params.get("code", ""), row.verifier,
                                     redirect_uri(gw))
        claims = await oidc.verify(sso, issuer, metadata, answer, row.nonce,
                                   int(gw.clock.now().timestamp()))
    except GatewayError as exc:
        if not test:
            await log_refusal(gw, None, exc.detail)
        raise
    role = role_of(sso, claims)
    if test:
        return Result(claims, role, True)
    return Result(claims, role, False, await sign_in(gw, sso, claims, role))


def claim_values(claims: dict, name: str) -> list[str]:
    value = claims.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def role_of(sso: SsoSettings, claims: dict) -> str | None:
    """admin when a value of the claim is among admin_values, else auditor when one is among
    auditor_values, else None."""
    values = set(claim_values(claims, sso.roles_claim))
    if values & set(sso.admin_values):
        return admins.ADMIN
    if values & set(sso.auditor_values):
        return admins.AUDITOR
    return None


def no_role(sso: SsoSettings, claims: dict) -> str:
    """Why claims give no role, with what arrived, for the person and the admin."""
    values = claim_values(claims, sso.roles_claim)
    if not values and "_claim_names" in claims:
        return (f"The identity provider sent no '{sso.roles_claim}' values but a reference "
                "to them (a groups overage: the user is in too many groups); assign the "
                "groups to the application and emit only those (docs/console.md)")
    arrived = ", ".join(f"'{v}'" for v in values[:20]) if values else "nothing"
    return (f"The claim '{sso.roles_claim}' maps to no console role: it held {arrived}. "
            "An admin adds one of these values to admin_values or auditor_values")


def name_of(claims: dict) -> str:
    """The account name: preferred_username, else email, lower case, if it is a valid name."""
    tried = []
    for claim in ("preferred_username", "email"):
        value = claims.get(claim)
        if isinstance(value, str) and value:
            name = value.strip().lower()
            if admins.NAME.match(name):
                return name
            tried.append(f"{claim} '{value[:80]}'")
    raise Refused("The ID token has no name usable for a console account ("
                  f"{', '.join(tried) or 'no preferred_username or email'}); a name is 1-64 "
                  "lower-case letters, digits, . _ @ or -")


async def sign_in(gw: Gateway, sso: SsoSettings, claims: dict, role: str | None) -> AdminRow:
    """The account of these claims, created or with its role read again, its sign-in logged;
    or a Refused, logged too."""
    name = None
    try:
        if role is None:
            raise Refused(no_role(sso, claims))
        name = name_of(claims)
        async with gw.store.write() as conn:
            account = await account_of(gw, conn, claims, name, role)
            name = account.name
            await queries.signed_in(conn, account.name, gw.clock.stamp())
            await log_entry(gw, conn, admin_context(admins.actor(account.name)),
                            operation=SIGN_IN, resource_type=ACCOUNT,
                            resource_id=account.name, detail=f"single sign-on ({role})")
        return account
    except Refused as exc:
        await log_refusal(gw, name or claims_name(claims), exc.detail)
        raise


async def account_of(gw: Gateway, conn: Conn, claims: dict, name: str, role: str) -> AdminRow:
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    found = await queries.get_admin_by_identity(conn, issuer, subject)
    if found is None:
        return await create(gw, conn, issuer, subject, name, role)
    if found.disabled_at:
        raise Refused(f"The console account '{found.name}' is disabled")
    if found.role != role:
        await queries.set_role(conn, found.name, role)
        await log_entry(gw, conn, admin_context(admins.actor(found.name)),
                        operation=ROLE_CHANGE, resource_type=ACCOUNT,
                        resource_id=found.name, before={"role": found.role},
                        after={"role": role},
                        detail=f"the identity provider's claims give {role} now")
        found.role = role
    return found


async def create(gw: Gateway, conn: Conn, issuer: str, subject: str, name: str,
                 role: str) -> AdminRow:
    now = gw.clock.stamp()
    row = AdminRow(name=name, password_hash="", role=role, created_at=now, password_set_at=now,
                   source=SSO, issuer=issuer, subject=subject)
    if not await queries.insert_admin(conn, row):
        raise Refused(f"A console account named '{name}' exists already and is not this "
                      "identity provider's user; an admin removes or renames it first")
    await log_entry(gw, conn, admin_context(admins.actor(name)), operation="create",
                    resource_type=ACCOUNT, resource_id=name,
                    after={"name": name, "role": role, "source": SSO, "issuer": issuer,
                           "subject": subject})
    return row


def claims_name(claims: dict) -> str | None:
    for claim in ("preferred_username", "email", "sub"):
        if isinstance(claims.get(claim), str) and claims[claim]:
            return str(claims[claim]).strip().lower()[:64]
    return None


async def log_refusal(gw: Gateway, name: str | None, detail: str) -> None:
    """A refused sign-in whose state was this gateway's, in its own transaction."""
    async with gw.store.write() as conn:
        await log_entry(gw, conn, admin_context(admins.actor(name) if name else "sso"),
                        operation=SIGN_IN, resource_type=ACCOUNT, resource_id=name,
                        outcome="error", status=403, detail=detail)


async def save(gw: Gateway, values: dict[str, Any], actor: str) -> SsoSettings:
    """Settings from the Settings page, checked and stored (without a client secret)."""
    if gw.settings.console_sso is not None:
        raise GatewayError("Single sign-on is set in the config file ([console.sso]); change "
                           "it there", 409)
    try:
        sso = read_sso(values, PAGE, need_secret=False)
    except ConfigError as exc:
        raise GatewayError(exc.detail, 400) from None
    async with gw.store.write() as conn:
        before = await states.get_config(conn)
        await states.put_config(conn, values, gw.clock.stamp(), actor)
        await log_entry(gw, conn, admin_context(actor), operation="update",
                        resource_type="ConsoleSso", resource_id=None,
                        before=before["settings"] if before else None, after=values)
    return sso


async def remove(gw: Gateway, actor: str) -> None:
    async with gw.store.write() as conn:
        before = await states.get_config(conn)
        await states.delete_config(conn)
        if before:
            await log_entry(gw, conn, admin_context(actor), operation="delete",
                            resource_type="ConsoleSso", resource_id=None,
                            before=before["settings"])
