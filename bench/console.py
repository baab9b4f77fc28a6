"""`make bench-console`: the console's pages at 10,000 users on SQLite.

Starts `identity-gateway serve` on a fresh database, provisions the users (and a few
groups) through SCIM /Bulk, signs in to the console, then asks each page REPEAT times in
a row and prints the median and 95th percentile in milliseconds. The target: every page
under 100 ms.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.__main__ import free_port, printed_values, wait_http

BIN = Path(sys.executable).parent
USERS = int(os.environ.get("BENCH_CONSOLE_USERS", "10000"))
REPEAT = int(os.environ.get("BENCH_CONSOLE_REPEAT", "50"))
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def provision(base: str, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    first = ""
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        for start in range(0, USERS, 1000):
            ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {
                "schemas": [CORE], "userName": f"user{i:05d}@example.com",
                "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
                "emails": [{"value": f"user{i:05d}@example.com", "type": "work",
                            "primary": True}]}}
                   for i in range(start, min(start + 1000, USERS))]
            r = client.post("/Bulk", json={"schemas": [BULK], "Operations": ops})
            r.raise_for_status()
            first = first or r.json()["Operations"][0]["location"].rsplit("/", 1)[1]
    return first


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-console-"))
    port = free_port()
    config = folder / "identity-gateway.toml"
    config.write_text('[plugins]\nenabled = ["entra", "okta", "legal_hold", "org_mapping"]\n')
    proc = subprocess.Popen(
        [str(BIN / "identity-gateway"), "serve", "--migrate", "--port", str(port),
         "--database", str(folder / "gw.db"), "--config", str(config),
         "--log-level", "warning"], stdout=subprocess.PIPE, text=True)
    try:
        values = printed_values(proc)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz")
        started = time.monotonic()
        uid = provision(values["SCIM base URL"], values["Bearer token"])
        print(f"provisioned {USERS} users in {time.monotonic() - started:.1f}s")
        pid = values["SCIM base URL"].rsplit("/", 1)[1]
        client = httpx.Client(base_url=url, timeout=60)
        form = client.get("/console/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        client.post("/console/sign-in", data={"username": "admin", "csrf_token": token,
                                              "password": values["Console password"]})
        pages = {
            "overview": "/console/", "providers": "/console/providers",
            "provider": f"/console/providers/{pid}",
            **{f"provider_{name}": f"/console/providers/{pid}/{name}" for name in
               ("settings", "attributes", "mappings", "guard", "credential")},
            "users": "/console/users", "users_search": "/console/users?q=family4242",
            "users_provider_state": f"/console/users?provider={pid}&state=active",
            "user": f"/console/users/{uid}", "sync_log": "/console/sync-log",
            "sync_log_user": f"/console/sync-log?user={uid}", "sync_log_entry":
            "/console/sync-log/2", "events": "/console/events",
            "organizations": "/console/organizations",
            "users_search_many": "/console/users?q=example.com",
            "users_blocked": "/console/users?blocked=true",
            "users_watchlist": "/console/users?watchlist=Privileged",
            "provider_connection": f"/console/providers/{pid}/connection",
            "provider_activity": f"/console/providers/{pid}/activity",
            "refused_requests": "/console/auth-failures", "legal_holds": "/console/legal-holds",
            "webhooks": "/console/webhooks", "settings": "/console/settings",
        }
        print(f"{'page':24} {'median ms':>10} {'p95 ms':>8}")
        for name, path in pages.items():
            times = []
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"{name:24} {statistics.median(times):10.1f} {p95:8.1f}")
        return 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
