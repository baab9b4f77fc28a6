"""The failure limits against a real `serve`, with real concurrent clients from many loopback
addresses (Linux routes all of 127/8 to loopback): strangers flooding a provider with wrong
credentials never get its IdP refused, from an address it never used before and after a
restart alike; and a client that keeps failing is held to its own limit."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
from serving import LINE, free_port, read_lines, start, stop, wait_ready

PER_CLIENT, PER_NETWORK, PER_PROVIDER, TOKENS_PER_PROVIDER = 20, 40, 30, 60
CONFIG = f"""[gateway]
auth_failures_per_client = {PER_CLIENT}
auth_failures_per_network = {PER_NETWORK}
auth_failures_per_provider = {PER_PROVIDER}
token_requests_per_client = 100000
token_requests_per_provider = {TOKENS_PER_PROVIDER}

[plugins]
enabled = ["entra"]
"""
ATTACKERS = [f"127.0.0.{n}" for n in range(2, 14)]  # twelve, in the IdPs' /24
WRONG = {"Authorization": "Bearer " + "x" * 43}


def serve(database: str, tmp_path: Path) -> tuple[subprocess.Popen, list[str], str]:
    """serve on a fresh port, its first printed line and its root URL."""
    config = tmp_path / "gw.toml"
    config.write_text(CONFIG)
    port = free_port()
    proc = start(database, port, config)
    lines = read_lines(proc, 1)
    assert lines and lines[0].startswith("SCIM base URL: "), lines
    root = f"http://127.0.0.1:{port}"
    wait_ready(root + "/scim/v2/x")
    return proc, lines, root


def client_from(address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=address),
                             timeout=60)


async def flood(url: str, address: str, done: asyncio.Event, seen: Counter,
                *, data: dict | None = None, connections: int = 3) -> None:
    """Wrong credentials from one address, as fast as it is answered, until `done` (or a
    bound of requests per connection)."""
    async with client_from(address) as client:
        async def one() -> None:
            for _ in range(2000):
                if done.is_set():
                    return
                if data is None:
                    r = await client.get(url, headers=WRONG)
                else:
                    r = await client.post(url, data=data)
                seen[r.status_code] += 1

        await asyncio.gather(*(one() for _ in range(connections)))


async def until(check, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the flood did not reach the limits"
        await asyncio.sleep(0.02)


async def under_attack(scim: str, token_url: str, client_id: str, idp_checks) -> tuple:
    """Twelve addresses send wrong bearer tokens to the SCIM API and wrong client secrets to
    the token endpoint; once both answer them 429, `idp_checks` runs meanwhile."""
    done = asyncio.Event()
    scim_seen: Counter = Counter()
    token_seen: Counter = Counter()
    wrong_secret = {"grant_type": "client_credentials", "client_id": client_id,
                    "client_secret": "not-the-secret"}
    floods = [flood(f"{scim}/Users", a, done, scim_seen) for a in ATTACKERS]
    floods += [flood(token_url, a, done, token_seen, data=wrong_secret, connections=1)
               for a in ATTACKERS]
    attack = asyncio.gather(*floods)
    try:
        await until(lambda: scim_seen[429] >= 50 and token_seen[429] >= 20)
        answers = await idp_checks()
    finally:
        done.set()
        await attack
    return answers, scim_seen, token_seen


async def idp_from(address: str, scim: str, bearer: str, token_url: str,
                   form: dict) -> list[int]:
    """The IdPs, from an address they never used: the bearer provider's right token, and
    Entra's right client secret and then its access token, again and again."""
    statuses = []
    async with client_from(address) as idp:
        for _ in range(10):
            r = await idp.get(f"{scim}/Users", headers={"Authorization": f"Bearer {bearer}"})
            statuses.append(r.status_code)
            issued = await idp.post(token_url, data=form)
            statuses.append(issued.status_code)
            if issued.status_code == 200:
                access = issued.json()["access_token"]
                r = await idp.get(token_url.rsplit("/oauth/", 1)[0] + "/Users",
                                  headers={"Authorization": f"Bearer {access}"})
                statuses.append(r.status_code)
            await asyncio.sleep(0.05)
    return statuses


def test_strangers_never_get_the_idps_refused(database, tmp_path):
    proc, lines, root = serve(database, tmp_path)
    try:
        lines += read_lines(proc, 2)
        path = "/scim/v2/" + LINE.match(lines[0]).group(1).rsplit("/", 1)[1]
        bearer = lines[1].split(": ", 1)[1]
        admin = {"Authorization": f"Bearer {lines[2].split(': ', 1)[1]}"}
        made = httpx.post(f"{root}/admin/v1/providers", headers=admin, timeout=30,
                          json={"name": "entra", "auth": "oauth", "plugin": "entra"})
        assert made.status_code == 201, made.text
        entra, creds = made.json()["id"], made.json()["credentials"]
        form = {"grant_type": "client_credentials", "client_id": creds["Client ID"],
                "client_secret": creds["Client secret"]}

        for restarted, address in enumerate(("127.0.0.50", "127.0.0.51")):
            if restarted:  # nothing the first process saw is remembered
                stop(proc)
                proc, _, root = serve(database, tmp_path)
            scim, token_url = root + path, f"{root}/scim/v2/{entra}/oauth/token"
            answers, scim_seen, token_seen = asyncio.run(under_attack(
                scim, token_url, creds["Client ID"],
                functools.partial(idp_from, address, scim, bearer, token_url, form)))
            assert answers == [200] * 30, (answers, scim_seen, token_seen)
            # The strangers were refused all along: 401, then 429 past the limits.
            assert set(scim_seen) == set(token_seen) == {401, 429}
    finally:
        stop(proc)


def test_a_client_that_keeps_failing_is_held_to_its_own_limit(database, tmp_path):
    proc, lines, root = serve(database, tmp_path)
    try:
        lines += read_lines(proc, 1)
        scim = LINE.match(lines[0]).group(1)
        right = {"Authorization": f"Bearer {lines[1].split(': ', 1)[1]}"}

        async def scenario() -> tuple[Counter, float, tuple[int, int]]:
            seen: Counter = Counter()
            done = asyncio.Event()
            began = time.monotonic()
            # Eight connections at once from one address, in a /24 of its own.
            hammer = asyncio.ensure_future(flood(f"{scim}/Users", "127.0.1.5", done, seen,
                                                 connections=8))
            await until(lambda: seen[429] >= 100)
            # Asked while the flood goes on, which spends each failure the bucket regains
            # (one per 3 s): asked after it, a slow host could see one regained in between.
            async with client_from("127.0.1.5") as same, client_from("127.0.2.5") as other:
                # Its own failures hold even the right token back; not another client's.
                mine = (await same.get(f"{scim}/Users", headers=right)).status_code
                theirs = (await other.get(f"{scim}/Users", headers=right)).status_code
            done.set()
            await hammer
            took = time.monotonic() - began
            return seen, took, (mine, theirs)

        seen, took, both = asyncio.run(scenario())
        refilled = int(took * PER_CLIENT / 60) + 1
        assert PER_CLIENT <= seen[401] <= PER_CLIENT + refilled, (seen, took)
        assert both == (429, 200)
    finally:
        stop(proc)
