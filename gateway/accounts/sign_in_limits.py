"""How often console sign-ins may be tried, counted in the store, so that concurrent
requests and replicas all see the same counts.

Three counts, after OWASP's advice against a lock-out that is itself a denial of service:

- per client address, whatever the name: ``console_sign_ins_per_client`` attempts a minute,
  so that one address cannot make the gateway run argon2 at speed;
- per (name, client address): after ``console_lockout_after`` failures that address is
  locked out of that name for ``console_lockout``, doubling with each further failure (at
  most 15 minutes). Its owner, signing in from another address, is not held back;
- per name, from every address: past ``console_name_slowdown_after`` failures, checks of
  the name's password are spaced ``console_name_slowdown`` apart. Guessing spread over many
  addresses is slowed down, not stopped, and the owner still gets a turn.

A browser that signed in as a name carries a device cookie for it (OWASP's "device
cookies"): its attempts are counted per (name, device) instead of per address, and the
name's slowdown does not apply to it, so an attack on a name from many addresses leaves
the browsers its owner signs in with alone.

An attempt is counted before its password is checked, by statements that increment and
return, and the decision uses what they return: N concurrent guesses count N, and those past
a limit are refused (429) without running argon2. A refusal changes nothing (its transaction
rolls back). A right password takes its failure back, and so does an attempt the gateway was
too busy to check. Unknown names are counted like any other, so a refusal says nothing
about which accounts exist.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec

from gateway.clock import format_time, parse_duration, parse_time
from gateway.errors import GatewayError
from gateway.store import admins as queries
from gateway.store.admins import Counted
from gateway.store.base import Conn

if TYPE_CHECKING:
    from gateway.core import Gateway

LOCK_MAX = timedelta(minutes=15)
MAX_DOUBLINGS = 16  # far past LOCK_MAX; a larger power of two overflows a timedelta
FORGET = timedelta(days=1)  # counts whose last failure is older are dropped
DEVICE_LIFETIME = timedelta(days=30)
DEVICE = "device:"  # a device's key among client addresses: this, then part of its hash
MAX_DEVICE_COOKIE = 128


class TooMany(GatewayError):
    """A sign-in refused before its password is checked; Retry-After says when to retry."""

    status = 429

    def __init__(self, detail: str, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        super().__init__(detail.format(seconds=seconds), headers={"Retry-After": str(seconds)})


class Attempt(msgspec.Struct, frozen=True):
    """An attempt that was counted and may check its password."""

    name: str
    client: str  # what its failures are counted under: the address, or the device
    failure: Counted
    name_failure: Counted | None  # None for a known device: not counted against the name
    device: str | None  # the hash of the known device's cookie


def device_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def minute(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def lock_out_for(gw: Gateway, failures: int) -> timedelta:
    first = timedelta(seconds=parse_duration(gw.settings.console_lockout))
    doublings = min(failures - gw.settings.console_lockout_after, MAX_DOUBLINGS)
    return min(first * 2 ** doublings, LOCK_MAX)


def refuse_until(until: str | None, now: str, moment: datetime, detail: str) -> None:
    """Refuse while a lock (or slowdown) that ends at ``until`` holds."""
    if until is not None and until > now:
        raise TooMany(detail, (parse_time(until) - moment).total_seconds())


async def known_device(gw: Gateway, name: str, cookie: str | None, now: str) -> str | None:
    """The hash of the device cookie when it was given at a sign-in as ``name``."""
    if not cookie or len(cookie) > MAX_DEVICE_COOKIE:
        return None
    hashed = device_hash(cookie)
    async with gw.store.lookup() as conn:
        return hashed if await queries.known_device(conn, hashed, name, now) else None


async def client_attempt(gw: Gateway, address: str) -> None:
    """An attempt from ``address`` that checks no password (a single sign-on started): it
    counts against the address's attempts a minute all the same."""
    moment = gw.clock.now()
    async with gw.store.write() as conn:
        if await queries.count_attempt(conn, address, minute(moment)) \
                > gw.settings.console_sign_ins_per_client:
            raise TooMany("Too many sign-in attempts from your address; try again in "
                          "{seconds} seconds", 60 - moment.timestamp() % 60)


async def begin(gw: Gateway, name: str, address: str, cookie: str | None) -> Attempt:
    """Count an attempt to sign in as ``name`` (normalised) from ``address`` (a client key)
    with the device cookie it sent, if any; TooMany when a limit holds it back."""
    moment = gw.clock.now()
    now = format_time(moment)
    settings = gw.settings
    device = await known_device(gw, name, cookie, now)
    client = DEVICE + device[:32] if device else address
    async with gw.store.write() as conn:
        if await queries.count_attempt(conn, address, minute(moment)) \
                > settings.console_sign_ins_per_client:
            raise TooMany("Too many sign-in attempts from your address; try again in "
                          "{seconds} seconds", 60 - moment.timestamp() % 60)
        failure = await queries.count_failure(conn, name, client, now)
        refuse_until(failure.until, now, moment, "Too many failed sign-ins for this name "
                     "from your address; try again in {seconds} seconds")
        if failure.failures >= settings.console_lockout_after:
            # Locked before the check: attempts that arrive while it runs are refused.
            until = moment + lock_out_for(gw, failure.failures)
            await queries.lock_out(conn, name, client, format_time(until))
        name_failure = None
        if device is None:
            name_failure = await queries.count_name_failure(conn, name, now)
            refuse_until(name_failure.until, now, moment, "Too many failed sign-ins for this "
                         "name; its sign-ins are slowed down: try again in {seconds} seconds")
            if name_failure.failures >= settings.console_name_slowdown_after:
                pace = timedelta(seconds=parse_duration(settings.console_name_slowdown))
                await queries.slow_down(conn, name, format_time(moment + pace))
    if failure.failures == 1:  # a new row: the moment to drop the stale ones
        async with gw.store.write() as conn:
            await queries.prune_sign_in_counts(conn, minute(moment), format_time(
                moment - FORGET), now)
    return Attempt(name, client, failure, name_failure, device)


async def succeeded(gw: Gateway, conn: Conn, attempt: Attempt) -> str:
    """The password was right: its failure is taken back, and the browser gets a new device
    cookie for the name (returned; only its hash is kept). Through the caller's write."""
    await queries.clear_failure(conn, attempt.name, attempt.client)
    if attempt.name_failure is not None:
        await queries.uncount_name_failure(conn, attempt.name)
    if attempt.device is not None:
        await queries.forget_device(conn, attempt.device)
    cookie = secrets.token_urlsafe(32)
    await queries.add_device(conn, device_hash(cookie), attempt.name,
                             format_time(gw.clock.now() + DEVICE_LIFETIME))
    return cookie


async def not_checked(gw: Gateway, attempt: Attempt) -> None:
    """The password could not be checked (the gateway was busy): the attempt's failures are
    taken back, unless other attempts were counted since."""
    async with gw.store.write() as conn:
        await queries.uncount_failure(conn, attempt.name, attempt.client, attempt.failure)
        if attempt.name_failure is not None:
            await queries.uncount_name_failure(conn, attempt.name, attempt.name_failure)
