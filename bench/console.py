"""`make bench-console`: the console's pages at 10,000 users and 100,000 sync-log entries
on SQLite.

Starts `identity-gateway serve` on a fresh database, provisions the users through SCIM
/Bulk (each request one batch of the sync log) and a few groups, fills the sync log up to
LOG_ENTRIES with users' single changes (written straight to the database, as months of an
IdP's updates would have), then applies the organization mapping to every user (one
batch of 10,000 entries at the top of the log). It signs in to the console, asks each page
REPEAT times in a row and prints the median and 95th percentile in milliseconds. The
target: every page under 100 ms.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.__main__ import free_port, printed_values, wait_http

BIN = Path(sys.executable).parent
USERS = int(os.environ.get("BENCH_CONSOLE_USERS", "10000"))
REPEAT = int(os.environ.get("BENCH_CONSOLE_REPEAT", "50"))
LOG_ENTRIES = int(os.environ.get("BENCH_CONSOLE_LOG", "100000"))
GROUPS = 20
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def provision(base: str, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    first = ""
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        for start in range(0, USERS, 1000):
            ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {
                "schemas": [CORE], "userName": f"user{i:05d}",
                "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
                "emails": [{"value": email(i), "type": "work", "primary": True}]}}
                   for i in range(start, min(start + 1000, USERS))]
            r = client.post("/Bulk", json={"schemas": [BULK], "Operations": ops})
            r.raise_for_status()
            first = first or r.json()["Operations"][0]["location"].rsplit("/", 1)[1]
        for g in range(GROUPS):
            members = [{"value": first}] if g == 7 else []
            client.post("/Groups", json={"displayName": f"Group {g:02d}",
                                         "members": members}).raise_for_status()
    return first


def email(i: int) -> str:
    return f"given{i}.family{i}@example.com"


def fill_log(database: Path, pid: str) -> None:
    """Users' single changes, written straight to the sync log up to LOG_ENTRIES (less the
    ten thousand the apply run adds), each with its user's id and name."""
    db = sqlite3.connect(database, timeout=60)
    try:
        users = db.execute("SELECT id, json_extract(data, '$.userName') FROM resources"
                           " WHERE type = 'User'").fetchall()
        have = db.execute("SELECT count(*) FROM sync_log").fetchone()[0]
        wanted = max(0, LOG_ENTRIES - USERS - have)
        rng = random.Random(7)
        start = datetime.now(UTC) - timedelta(seconds=wanted)
        rows = []
        for n in range(wanted):
            uid, name = users[rng.randrange(len(users))]
            title = json.dumps({"title": f"Title {n}"})
            rows.append((name, None, (start + timedelta(seconds=n)).isoformat(
                timespec="microseconds")[:26] + "Z", pid, f"provider:{pid}", f"req-{n}",
                "PATCH", f"/scim/v2/{pid}/Users/{uid}", "User", uid, "patch",
                json.dumps({"title": f"Title {n - 1}"}), title, "success", None, None, None))
        db.executemany(
            "INSERT INTO sync_log (subject, batch, at, provider_id, actor, request_id, method,"
            " path, resource_type, resource_id, operation, before, after, outcome, status,"
            " detail, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows)
        db.commit()
    finally:
        db.close()


def log_facts(database: Path) -> dict[str, object]:
    db = sqlite3.connect(database, timeout=60)
    try:
        return {
            "entries": db.execute("SELECT count(*) FROM sync_log").fetchone()[0],
            "batch": db.execute("SELECT batch FROM sync_log WHERE batch IS NOT NULL"
                                " ORDER BY seq DESC LIMIT 1").fetchone()[0],
            "entry": db.execute("SELECT max(seq) FROM sync_log WHERE operation = 'patch'"
                                ).fetchone()[0]}
    finally:
        db.close()


def apply_mapping(client: httpx.Client, pid: str) -> None:
    """Every user into one organization: a batch of 10,000 entries, the newest in the log."""
    client.post("/organizations", json={"name": "Engineering"}).raise_for_status()
    client.put(f"/providers/{pid}/org-mapping", json={
        "method": "single", "organization": "Engineering"}).raise_for_status()
    client.post(f"/providers/{pid}/apply-mappings").raise_for_status()


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
        started = time.monotonic()
        fill_log(folder / "gw.db", pid)
        admin = httpx.Client(base_url=f"{url}/admin/v1", timeout=600, headers={
            "Authorization": f"Bearer {values['Admin token']}"})
        apply_mapping(admin, pid)
        facts = log_facts(folder / "gw.db")
        print(f"sync log: {facts['entries']} entries in {time.monotonic() - started:.1f}s")
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
            "sync_log_user": f"/console/sync-log?user={uid}",
            "sync_log_user_name": "/console/sync-log?who=user04242",
            "sync_log_email": f"/console/sync-log?who={email(4242)}",
            "sync_log_group": "/console/sync-log?group=group+07",
            "sync_log_provider": f"/console/sync-log?provider={pid}",
            "sync_log_batch": f"/console/sync-log?batch={facts['batch']}",
            "sync_log_entry": f"/console/sync-log/{facts['entry']}",
            "sync_log_page_2": "/console/sync-log?cursor=" + str(int(facts["entry"]) - 500),
            "events": "/console/events",
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
