"""The console's sign-in limits over HTTP on both stores, on the gateway's clock: the doubling
lock-out per (name, address) and what clears it, an attempt too busy to be checked, the
device cookie, and unknown names treated like known ones. (Concurrent attacks against a
real `serve`: tests/console/test_sign_in_attacks.py.)"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from gateway.accounts import admins
from gateway.testing import Harness, running

pytestmark = pytest.mark.anyio

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "alice's long password"


@asynccontextmanager
async def browser(gateway: Harness, address: str = "127.0.0.1"
                  ) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookies) whose requests come from `address`."""
    transport = httpx.ASGITransport(app=gateway.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def attempt(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    form = await client.get("/console/sign-in")
    return await client.post("/console/sign-in", data={
        "username": name, "password": password,
        "csrf_token": TOKEN.search(form.text).group(1)})


def wait_of(answer: httpx.Response) -> int:
    """The seconds a refusal asks to wait (0: not refused)."""
    return int(answer.headers["retry-after"]) if answer.status_code == 429 else 0


async def test_a_lock_out_doubles_and_what_ends_it(database):
    async with running(database) as gateway:
        await admins.add_admin(gateway.gw, "alice", password=PASSWORD)
        async with browser(gateway) as client:
            assert [(await attempt(client, "alice", "wrong")).status_code
                    for _ in range(5)] == [401] * 5
            locked = await attempt(client, "alice", PASSWORD)
            assert wait_of(locked) == 60 and "try again in 60 seconds" in locked.text
            gateway.clock.advance(seconds=61)
            assert (await attempt(client, "alice", "wrong")).status_code == 401
            assert wait_of(await attempt(client, "alice", PASSWORD)) == 120  # doubled
            gateway.clock.advance(seconds=121)
            assert (await attempt(client, "alice", PASSWORD)).status_code == 303
            # Signed in: the count starts again from nothing.
            assert [(await attempt(client, "alice", "wrong")).status_code
                    for _ in range(5)] == [401] * 5
            assert wait_of(await attempt(client, "alice", PASSWORD)) == 60
            # A new password (`admin passwd`) ends the lock-out too.
            await admins.change_password(gateway.gw, "alice", PASSWORD + "!")
            assert (await attempt(client, "alice", PASSWORD + "!")).status_code == 303


async def test_a_lock_out_stops_doubling_at_fifteen_minutes(database):
    """A guess each time the lock-out ends, for half a day: each is checked, none waits more
    than 15 minutes (and the doubling never overflows)."""
    async with running(database) as gateway:
        async with browser(gateway) as client:
            waits = []
            for _ in range(50):
                assert (await attempt(client, "admin", "wrong")).status_code == 401
                waits.append(wait_of(await attempt(client, "admin", "wrong")))
                gateway.clock.advance(minutes=15, seconds=1)
            # Two guesses a turn: the fifth failure locks the name out.
            assert waits[:6] == [0, 0, 60, 120, 240, 480]
            assert set(waits[6:]) == {900}


async def test_an_attempt_too_busy_to_be_checked_counts_no_failure(database):
    async with running(database) as gateway:
        checks = gateway.gw.password_checks.slots
        holders = [object() for _ in range(int(checks.total_tokens))]
        for holder in holders:  # every password check is taken
            await checks.acquire_on_behalf_of(holder)
        async with browser(gateway) as client:
            busy = await attempt(client, "admin", "wrong")
            for holder in holders:
                checks.release_on_behalf_of(holder)
            assert wait_of(busy) > 0 and "busy" in busy.text
            # Five failures, then the lock-out: the busy attempt was not one of them.
            assert [(await attempt(client, "admin", "wrong")).status_code
                    for _ in range(6)] == [401] * 5 + [429]


async def test_a_browser_that_signed_in_is_not_slowed_down_by_an_attack_on_its_name(database):
    async with running(database, console_name_slowdown_after=3,
                       console_name_slowdown="30s") as gateway:
        await admins.add_admin(gateway.gw, "alice", password=PASSWORD)
        await admins.add_admin(gateway.gw, "bob", password=PASSWORD)
        async with browser(gateway, "10.0.0.1") as alice, \
                browser(gateway, "10.0.0.1") as bob:
            assert (await attempt(alice, "alice", PASSWORD)).status_code == 303
            first = alice.cookies["ig_console_device"]
            assert (await attempt(bob, "bob", PASSWORD)).status_code == 303
            for address in ("10.0.0.2", "10.0.0.3", "10.0.0.4"):
                async with browser(gateway, address) as stranger:
                    assert (await attempt(stranger, "alice", "wrong")).status_code == 401
            async with browser(gateway, "10.0.0.5") as stranger:
                slowed = await attempt(stranger, "alice", PASSWORD)
            assert wait_of(slowed) == 30 and "slowed down" in slowed.text
            # Bob's browser is a stranger to the name alice.
            assert "slowed down" in (await attempt(bob, "alice", PASSWORD)).text
            # Alice's is not, and each sign-in gives it a new device cookie.
            assert (await attempt(alice, "alice", PASSWORD)).status_code == 303
            assert alice.cookies["ig_console_device"] != first
            # The old one is spent: a browser that copied it is a stranger again.
            async with browser(gateway, "10.0.0.6") as copy:
                copy.cookies.set("ig_console_device", first, domain="testserver",
                                 path="/console")
                assert wait_of(await attempt(copy, "alice", PASSWORD)) > 0
            # Failures from alice's browser count against the browser, not the address.
            assert [(await attempt(alice, "alice", "wrong")).status_code
                    for _ in range(6)] == [401] * 5 + [429]
            async with browser(gateway, "10.0.0.1") as same_address:
                gateway.clock.advance(seconds=31)
                assert (await attempt(same_address, "alice", PASSWORD)).status_code == 303


async def test_an_unknown_name_is_refused_like_a_known_one(database):
    async with running(database) as gateway:
        await admins.add_admin(gateway.gw, "alice", password=PASSWORD)
        answers = {}
        for name in ("alice", "nobody"):
            async with browser(gateway, f"10.0.1.{len(answers)}") as client:
                answers[name] = [(r.status_code, r.headers.get("retry-after"),
                                  re.search(r'role="alert">([^<]*)<', r.text).group(1))
                                 for r in [await attempt(client, name, "wrong")
                                           for _ in range(7)]]
        assert answers["alice"] == answers["nobody"]
        assert [status for status, _, _ in answers["alice"]] == [401] * 5 + [429] * 2
