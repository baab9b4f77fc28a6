"""What custom attributes cost a SCIM request, in process (the app driven through the ASGI
transport, on a fresh SQLite file):

- GET /Users/{id} and PATCH /Users/{id} p50 (interleaved) for a user without custom
  attributes (`plain`), one carrying `--declared` of them its provider has not declared
  (`kept`), and one whose provider declared them all (`declared`);
- building one provider's schema (done once per change of its declarations, per process).

    .venv/bin/python -m bench.custom_schema [--declared 50] [--rounds 2000]
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
from gateway.scim.custom import Declaration, registry_with
from gateway.settings import Settings

EXT = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user(name: str, declared: int) -> dict:
    body = {"schemas": [CORE], "userName": name, "active": True,
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": name, "type": "work", "primary": True}]}
    if declared:
        body[EXT] = {f"attr{i}": f"value {i}" for i in range(declared)}
    return body


async def run(declared: int, rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(database=str(Path(folder) / "gw.db"), migrate=True))
        async with app.router.lifespan_context(app):
            admin = {"Authorization": f"Bearer {await create_admin_token(app.state.gateway)}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                targets = {}
                for label, count, declares in (("plain", 0, 0), ("kept", declared, 0),
                                               ("declared", declared, declared)):
                    made = (await client.post("/admin/v1/providers", headers=admin,
                                              json={"name": label})).json()
                    for i in range(declares):
                        r = await client.post(
                            f"/admin/v1/providers/{made['id']}/custom-attributes",
                            headers=admin, json={"schema": EXT, "name": f"attr{i}"})
                        assert r.status_code == 201, r.text
                    headers = {"Authorization": f"Bearer {made['credentials']['Bearer token']}",
                               "Content-Type": "application/scim+json"}
                    base = f"/scim/v2/{made['id']}"
                    r = await client.post(f"{base}/Users", headers=headers,
                                          json=user(f"{label}@example.com", count))
                    assert r.status_code == 201, r.text
                    targets[label] = (f"{base}/Users/{r.json()['id']}", headers)
                times: dict[str, list[int]] = {f"{k} {m}": [] for k in targets
                                               for m in ("GET", "PATCH")}
                patch = {"schemas": [PATCH_OP], "Operations": [
                    {"op": "replace", "path": "title", "value": "x"}]}
                for n in range(rounds):
                    for label, (url, headers) in targets.items():
                        start = time.perf_counter_ns()
                        r = await client.get(url, headers=headers)
                        times[f"{label} GET"].append(time.perf_counter_ns() - start)
                        assert r.status_code == 200
                        patch["Operations"][0]["value"] = f"t{n}"
                        start = time.perf_counter_ns()
                        r = await client.patch(url, headers=headers, json=patch)
                        times[f"{label} PATCH"].append(time.perf_counter_ns() - start)
                        assert r.status_code == 200
    decls = [Declaration(schema=EXT, name=f"attr{i}") for i in range(declared)]
    base = app.state.gateway.registry
    start = time.perf_counter_ns()
    for _ in range(100):
        registry_with(base, decls)
    build_us = (time.perf_counter_ns() - start) / 100 / 1000
    out = {key: round(statistics.median(v) / 1000) for key, v in times.items()}
    return {"p50_us": out, "build_schema_us": round(build_us, 1), "declared": declared,
            "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--declared", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    print(asyncio.run(run(args.declared, args.rounds)))


if __name__ == "__main__":
    main()
