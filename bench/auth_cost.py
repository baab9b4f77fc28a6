"""What authentication costs, in process (the app driven through the ASGI transport, on a
fresh SQLite file), for docs/performance.md and issue #16:

- GET /Users/{id} p50 with an Entra OAuth provider holding 1 and then 5,000 live access
  tokens (the request uses the newest);
- the existence oracles: a wrong token on an existing provider (the Entra one, and a bearer
  one) against any token on an unknown id, and another provider's resource id against a
  missing one (medians of interleaved requests, and their difference in microseconds).

    .venv/bin/python -m bench.auth_cost [--tokens 5000] [--rounds 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from gateway.accounts.providers import create_admin_token
from gateway.app import create_app
from gateway.settings import Settings

# Generous limits so the measurement itself is never throttled (on versions that have them).
LIMITS = {"token_requests_per_client": 100_000, "token_requests_per_provider": 100_000,
          "auth_failures_per_client": 100_000, "auth_failures_per_network": 1_000_000,
          "auth_failures_per_provider": 1_000_000}


def settings(database: str) -> Settings:
    known = set(Settings.__struct_fields__)
    return Settings(database=database, migrate=True, plugins=["entra"],
                    **{k: v for k, v in LIMITS.items() if k in known})


async def timed(client: httpx.AsyncClient, url: str, headers: dict) -> tuple[float, int]:
    start = time.perf_counter_ns()
    r = await client.get(url, headers=headers)
    return (time.perf_counter_ns() - start) / 1000.0, r.status_code


async def p50(client: httpx.AsyncClient, url: str, headers: dict, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        micros, status = await timed(client, url, headers)
        assert status == 200, status
        samples.append(micros)
    return statistics.median(samples)


async def pair(client: httpx.AsyncClient, a: tuple[str, dict], b: tuple[str, dict],
               rounds: int, status: int) -> tuple[float, float]:
    """Medians (µs) of two requests sent alternately, which goes first swapping each round
    (A B B A ...), so that drift and the cost of going first hit both alike."""
    one, two = [], []
    for n in range(rounds):
        order = ((a, one), (b, two)) if n % 2 == 0 else ((b, two), (a, one))
        for (url, headers), into in order:
            micros, got = await timed(client, url, headers)
            assert got == status, (url, got)
            into.append(micros)
    return statistics.median(one), statistics.median(two)


async def main(tokens: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(settings(str(Path(tmp) / "gw.db")), run_scheduler=False)
        async with app.router.lifespan_context(app):
            admin = {"Authorization": f"Bearer {await create_admin_token(app.state.gateway)}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                await run(c, admin, tokens, rounds)


async def run(c: httpx.AsyncClient, admin: dict, tokens: int, rounds: int) -> None:
    r = await c.post("/admin/v1/providers", headers=admin,
                     json={"name": "entra", "auth": "oauth", "plugin": "entra"})
    pid, creds = r.json()["id"], r.json()["credentials"]
    form = {"grant_type": "client_credentials", "client_id": creds["Client ID"],
            "client_secret": creds["Client secret"]}

    async def new_token() -> dict:
        r = await c.post(f"/scim/v2/{pid}/oauth/token", data=form)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    auth = await new_token()
    user = (await c.post(f"/scim/v2/{pid}/Users", headers=auth, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bench@example.com"})).json()
    url = f"/scim/v2/{pid}/Users/{user['id']}"
    await p50(c, url, auth, 200)  # warm up
    one = await p50(c, url, auth, rounds)
    for _ in range(tokens - 1):
        auth = await new_token()
    many = await p50(c, url, auth, rounds)
    print(f"GET /Users/{{id}} p50: {one:.0f} µs with 1 live token, "
          f"{many:.0f} µs with {tokens} ({many / one:.2f}x)")

    other = await c.post("/admin/v1/providers", headers=admin, json={"name": "other"})
    other_headers = {"Authorization": f"Bearer {other.json()['credentials']['Bearer token']}"}
    wrong = {"Authorization": "Bearer " + "x" * 64}
    for kind, target in (("Entra OAuth", pid), ("bearer", other.json()["id"])):
        known, unknown = await pair(c, (f"/scim/v2/{target}/Users", wrong),
                                    ("/scim/v2/0123456789abcdef/Users", wrong), rounds, 401)
        print(f"401, wrong token: existing {kind} provider {known:.0f} µs, unknown id "
              f"{unknown:.0f} µs (difference {known - unknown:+.1f} µs)")
    theirs, missing = await pair(
        c, (f"/scim/v2/{other.json()['id']}/Users/{user['id']}", other_headers),
        (f"/scim/v2/{other.json()['id']}/Users/{user['id'][:-4]}ffff", other_headers),
        rounds, 404)
    print(f"404: another provider's id {theirs:.0f} µs, missing id {missing:.0f} µs "
          f"(difference {theirs - missing:+.1f} µs)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.tokens, args.rounds))
