"""The gateway beside its peers, in one interleaved run: issue 30's table.

Each server gets the same users (Entra's body) and answers the same seven scenarios; each
scenario runs on each server in turns, for `rounds` rounds, the order of the servers rotating
from round to round, so a slow spell of a shared host hits every server alike; the median
round of each server is kept. Beside requests per second, each run reports the CPU time the
server spent per request: utime + stime from /proc of the server's process and every process
under it (workers, and the children it reaped), which a busy neighbour moves far less than
req/s.

Servers, in issue 30's column order: the gateway on durable SQLite (`sqlite_synchronous =
"full"`, the default), the gateway on PostgreSQL when it is reachable, and the peers
installed by `make bench` in .venv/peers: python-scim's scim2-server (ASGI under uvicorn, on
the gateway's HTTP stack), BoxyHQ's directory sync (`@boxyhq/saml-jackson` behind Node's
HTTP server) in memory and, when PostgreSQL is reachable, on its `sql` engine, and SCIMMY
(`scimmy` behind `scimmy-routers`' express middleware, its resources in memory).
BENCH_PEERS=0 leaves the peers out. A PostgreSQL server's own CPU is not counted: it is not
under the process that is measured.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import msgspec

from bench.client import Connection, Result, run, single
from bench.cpu import tree_cpu_seconds
from bench.floor import stack
from bench.load import PATCH_OP, entra_user, lookup_path, user_name

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / ".venv" / "peers"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ROWS = {  # scenario: the row
    "post_user": "POST /Users",
    "lookup_username": "`userName eq`",
    "get_by_id": "GET by id",
    "patch_user": "PATCH",
    "page_100": "page of 100",
    "add_100_members": "add 100 members (one PATCH)",
    "remove_100_members": "remove 100 members by filter",
}
WRITES = ("post_user", "patch_user", "add_100_members", "remove_100_members")
SIZES = {  # users per server, rounds, seconds and requests at most per scenario and round
    "smoke": {"users": 400, "rounds": 1, "seconds": 1.5, "requests": 1000},
    "default": {"users": 2000, "rounds": 3, "seconds": 3.0, "requests": 3000},
    "large": {"users": 2000, "rounds": 5, "seconds": 5.0, "requests": 5000},
}
CONCURRENCY = 16


@dataclass
class Server:
    """A running SCIM server: `base` is its SCIM base path, `pid` the process CPU is read
    from (with everything under it)."""

    name: str
    proc: subprocess.Popen
    port: int
    base: str
    token: str
    ids: list[str] = field(default_factory=list)
    created: int = 0  # users POSTed so far: the next POST's index
    group: str = ""
    members: list[str] = field(default_factory=list)

    @property
    def auth(self) -> str:
        return f"Bearer {self.token}"


# Starting the servers ----------------------------------------------------------------------

def peers_wanted() -> bool:
    return os.environ.get("BENCH_PEERS", "1") != "0"


def start_scim2(port: int) -> Server | None:
    """scim2-server from the peers' venv, on the HTTP parser and event loop the gateway's
    own server options choose (bench.floor.stack)."""
    python = PEERS / "py" / "bin" / "python"
    if not python.exists():
        print("scim2-server: skipped (not installed: make bench installs it)", file=sys.stderr)
        return None
    from bench.__main__ import wait_http

    token = secrets.token_urlsafe(24)
    chosen = stack()
    proc = subprocess.Popen(
        [str(python), "-m", "uvicorn", "bench.peers.scim2_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log",
         "--http", chosen["http"], "--loop", chosen["loop"]],
        cwd=ROOT, env={**os.environ, "SCIM2_BENCH_TOKEN": token})
    wait_http(f"http://127.0.0.1:{port}/v2/ServiceProviderConfig")
    return Server("scim2-server", proc, port, "/v2", token)


def start_node(name: str, script: str, args: list[str], work: Path,
               env: dict[str, str] | None = None) -> Server | None:
    """A Node peer (bench/peers/SCRIPT) on the modules npm installed, if it did. Its output
    goes to a file, as the gateway's log does; its first lines give the base URL and the
    token."""
    modules = PEERS / "npm" / "node_modules"
    package = {"boxyhq.js": "@boxyhq/saml-jackson", "scimmy.js": "scimmy-routers"}[script]
    if not (modules / package).exists():
        print(f"{name}: skipped (not installed: make bench installs it when npm is there)",
              file=sys.stderr)
        return None
    port = int(args[0])
    log = work / f"{name.replace(' ', '-')}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["node", str(ROOT / "bench" / "peers" / script), *args],
            stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "NODE_PATH": str(modules), "DO_NOT_TRACK": "1", **(env or {})})
    values = read_values(proc, log, "Bearer token", timeout=180)
    if values is None:
        print(f"{name}: skipped (it did not start: {log.read_text()[-500:]})", file=sys.stderr)
        proc.kill()
        proc.wait()
        return None
    base = values["SCIM base URL"].split(f":{port}", 1)[1]
    return Server(name, proc, port, base, values["Bearer token"])


def start_boxyhq(port: int, work: Path, database: str | None = None) -> Server | None:
    """BoxyHQ's directory sync in memory, or on PostgreSQL given `database` (a URL whose
    search_path is a schema of its own). It logs a line per event (no webhook is set)."""
    if database is None:
        return start_node("BoxyHQ in memory", "boxyhq.js", [str(port)], work)
    # node-postgres takes the role from $USER, which a service's environment may lack; the
    # gateway's asyncpg takes the login name
    return start_node("BoxyHQ on PostgreSQL", "boxyhq.js", [str(port), database], work,
                      {"PGUSER": os.environ.get("PGUSER") or getpass.getuser()})


def start_scimmy(port: int, work: Path) -> Server | None:
    """SCIMMY behind scimmy-routers' express middleware, its resources in memory."""
    return start_node("SCIMMY", "scimmy.js", [str(port)], work)


def read_values(proc: subprocess.Popen, log: Path, last: str,
                timeout: float) -> dict[str, str] | None:
    """The `Key: value` lines a server wrote to `log` on start, once `last` is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        values = dict(line.split(": ", 1) for line in log.read_text().splitlines()
                      if ": " in line)
        if last in values:
            return values
        time.sleep(0.2)
    return None


def start_gateway(name: str, database: str, work: Path, workers: int | None = None) -> Server:
    """`identity-gateway serve` with its default worker processes (one per core), or
    `workers`."""
    from bench.__main__ import first_start, free_port
    from bench.__main__ import start_gateway as start

    port = free_port()
    log = work / f"compare-{name.replace(' ', '-')}.log"
    env = {"IDENTITY_GATEWAY_WORKERS": str(workers)} if workers else None
    proc = start(database, port, log, request_log=True, env=env)
    base, token = first_start(log)
    return Server(name, proc, port, base.split(f":{port}", 1)[1], token)


# The scenarios -----------------------------------------------------------------------------

Scenario = Callable[[Server, dict, int], Awaitable[Result]]


async def go(server: Server, steps: list, size: dict, concurrency: int = CONCURRENCY) -> Result:
    return await run("127.0.0.1", server.port, server.auth, steps, concurrency,
                     size["seconds"], lambda s: s < 400)


async def seed(server: Server, users: int) -> None:
    """`users` users (Entra's body), over 16 connections; their ids in creation order."""
    created: dict[int, str] = {}

    async def create(i: int, conn: Connection) -> list[int]:
        status, raw = await conn.request("POST", f"{server.base}/Users", entra_user(i))
        if status == 201:
            created[i] = msgspec.json.decode(raw)["id"]
        return [status]

    result = await run("127.0.0.1", server.port, server.auth,
                       [partial(create, i) for i in range(users)], CONCURRENCY, 600,
                       lambda s: s < 400)
    if result.errors:
        raise RuntimeError(f"{server.name}: {result.errors} of {users} users not created")
    server.ids = [created[i] for i in range(users)]
    server.created = users


async def post_user(server: Server, size: dict, round_: int) -> Result:
    start = server.created
    server.created += size["requests"]
    return await go(server, [partial(single, method="POST", path=f"{server.base}/Users",
                                     body=entra_user(i))
                             for i in range(start, start + size["requests"])], size)


async def lookup_username(server: Server, size: dict, round_: int) -> Result:
    users = len(server.ids)
    return await go(server, [partial(single, method="GET", path=lookup_path(
        server.base, "userName", user_name((k * 7919 + round_) % users)))
        for k in range(size["requests"])], size)


async def get_by_id(server: Server, size: dict, round_: int) -> Result:
    ids = server.ids
    picks = [ids[(k * 7919 + round_) % len(ids)] for k in range(size["requests"])]
    return await go(server, [partial(single, method="GET", path=f"{server.base}/Users/{rid}")
                             for rid in picks], size)


async def patch_user(server: Server, size: dict, round_: int) -> Result:
    """Entra's PATCH: `Replace` of two single attributes."""
    ids = server.ids

    def body(k: int) -> dict:
        return {"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "title", "value": f"Title {round_}-{k}"},
            {"op": "Replace", "path": "name.familyName", "value": f"Family-{round_}-{k}"}]}

    return await go(server, [partial(single, method="PATCH",
                                     path=f"{server.base}/Users/{ids[k % len(ids)]}",
                                     body=body(k)) for k in range(size["requests"])], size)


async def page_100(server: Server, size: dict, round_: int) -> Result:
    pages = max(1, len(server.ids) // 100)
    return await go(server, [partial(single, method="GET", path=f"{server.base}/Users?"
                                     f"startIndex={(k % pages) * 100 + 1}&count=100")
                             for k in range(size["requests"])], size)


async def add_100_members(server: Server, size: dict, round_: int) -> Result:
    """A new group filled with the stored users, 100 per PATCH, in order over one connection
    (as an IdP pushes one group)."""
    conn = Connection("127.0.0.1", server.port, server.auth)
    await conn.open()
    try:
        status, raw = await conn.request("POST", f"{server.base}/Groups", {
            "schemas": [GROUP], "displayName": f"Bench {round_}", "externalId": f"g-{round_}"})
        assert status == 201, (server.name, status, raw[:300])
        server.group = msgspec.json.decode(raw)["id"]
    finally:
        await conn.close()
    batches = [server.ids[k:k + 100] for k in range(0, len(server.ids), 100)]
    done: list[str] = []

    async def add(batch: list[str], conn: Connection) -> list[int]:
        status, _ = await conn.request("PATCH", f"{server.base}/Groups/{server.group}", {
            "schemas": [PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": m} for m in batch]}]})
        if status < 400:
            done.extend(batch)
        return [status]

    result = await go(server, [partial(add, b) for b in batches], size, concurrency=1)
    server.members = done
    return result


async def remove_100_members(server: Server, size: dict, round_: int) -> Result:
    """100 members out of the group per PATCH, each by a `members[value eq "..."]` filter,
    as Entra and Okta remove one."""
    batches = [server.members[k:k + 100] for k in range(0, len(server.members), 100)]

    def body(batch: list[str]) -> dict:
        return {"schemas": [PATCH_OP], "Operations": [
            {"op": "remove", "path": f'members[value eq "{m}"]'} for m in batch]}

    return await go(server, [partial(single, method="PATCH",
                                     path=f"{server.base}/Groups/{server.group}",
                                     body=body(b)) for b in batches], size, concurrency=1)


async def floor(server: Server, size: dict, round_: int) -> Result:
    """The bare endpoint on the gateway's HTTP stack: the most any server here could do."""
    return await go(server, [partial(single, method="GET", path="/floor")
                             for _ in range(size["requests"])], size)


SCENARIOS: dict[str, Scenario] = {"floor": floor,
    "post_user": post_user, "lookup_username": lookup_username, "get_by_id": get_by_id,
    "patch_user": patch_user, "page_100": page_100, "add_100_members": add_100_members,
    "remove_100_members": remove_100_members}


async def members_of(server: Server) -> int:
    """How many members the group holds: each server must really have added them."""
    conn = Connection("127.0.0.1", server.port, server.auth)
    await conn.open()
    try:
        if server.name.startswith("BoxyHQ"):  # its GET of a group lists no members
            status, raw = await conn.request("GET", f"/bench/groups/{server.group}/members")
            assert status == 200, (server.name, status, raw[:300])
            return msgspec.json.decode(raw)["members"]
        status, raw = await conn.request("GET", f"{server.base}/Groups/{server.group}")
        assert status == 200, (server.name, status, raw[:300])
        return len(msgspec.json.decode(raw).get("members") or [])
    finally:
        await conn.close()


async def page_items(server: Server) -> int:
    conn = Connection("127.0.0.1", server.port, server.auth)
    await conn.open()
    try:
        status, raw = await conn.request("GET", f"{server.base}/Users?startIndex=101&count=100")
        assert status == 200, (server.name, status, raw[:300])
        return len(msgspec.json.decode(raw).get("Resources") or [])
    finally:
        await conn.close()


# The liveness probe ------------------------------------------------------------------------

class Probe:
    """`GET /healthz` every 50 ms on a gateway for the whole run (bench/probe.py, a process
    of its own), kept for the time windows of the write rows: what a load balancer's health
    check sees while the gateway writes."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.probe", str(port)],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.windows: list[tuple[float, float]] = []

    def summary(self) -> dict:
        out, _ = self.proc.communicate("", timeout=60)
        samples = [(at, lat) for at, lat in json.loads(out)
                   if any(start <= at <= end for start, end in self.windows)]
        lat = sorted(s for _, s in samples if s is not None)
        failures = sum(1 for _, s in samples if s is None)
        if not lat:
            return {"probes": 0, "failures": failures}
        return {"probes": len(lat), "failures": failures,
                "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
                "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2),
                "max_ms": round(lat[-1] * 1000, 2)}


# The run -----------------------------------------------------------------------------------

async def measure(server: Server, name: str, size: dict, round_: int) -> dict:
    cpu = tree_cpu_seconds(server.proc.pid)
    result = await SCENARIOS[name](server, size, round_)
    used = tree_cpu_seconds(server.proc.pid) - cpu
    summary = result.summary()
    if result.seconds:  # a slow server's rate below 0.1/s must not read as 0
        summary["rps"] = round(result.count / result.seconds, 1 if result.count >=
                               result.seconds * 10 else 3)
    summary["cpu_us_per_request"] = round(used / summary["requests"] * 1e6, 1) \
        if summary["requests"] else None
    if name == "page_100":  # each server must answer a full page
        summary["page_items"] = await page_items(server)
    if name == "add_100_members":
        summary["group_members"] = await members_of(server)
        summary["members_sent"] = len(server.members)
    return summary


def run_all(servers: list[Server], scale: str, floor_server: Server | None = None) -> dict:
    """Every scenario on every server, in turns; the median round per server and scenario.
    The floor runs first in each round, on its own server."""
    size = SIZES.get(scale, SIZES["default"])
    floors: list[dict] = []
    for server in servers:
        print(f"  seeding {server.name}: {size['users']} users", file=sys.stderr)
        asyncio.run(seed(server, size["users"]))
    rounds: dict[str, dict[str, list[dict]]] = {name: {s.name: [] for s in servers}
                                                for name in ROWS}
    probes = {s.name: Probe(s.port) for s in servers if s.name.startswith("gateway")}
    for round_ in range(size["rounds"]):
        turn = servers[round_ % len(servers):] + servers[:round_ % len(servers)]
        if floor_server is not None:
            floors.append(asyncio.run(measure(floor_server, "floor", size, round_)))
            print(f"  round {round_ + 1} floor {floors[-1]['rps']:>9} req/s "
                  f"{floors[-1]['cpu_us_per_request']:>9} us CPU", file=sys.stderr)
        for name in ROWS:
            for server in turn:
                began = time.time()
                summary = asyncio.run(measure(server, name, size, round_))
                if name in WRITES and server.name in probes:
                    probes[server.name].windows.append((began, time.time()))
                rounds[name][server.name].append(summary)
                print(f"  round {round_ + 1} {name:<20} {server.name:<20} "
                      f"{summary['rps']:>9} req/s {summary['cpu_us_per_request']:>9} us CPU "
                      f"errors {summary['errors']}", file=sys.stderr)
    table: dict[str, dict[str, dict]] = {}
    for name, by_server in rounds.items():
        table[name] = {}
        for server_name, runs in by_server.items():
            middle = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
            cpus = [r["cpu_us_per_request"] for r in runs if r["cpu_us_per_request"]]
            table[name][server_name] = {
                **middle, "rps_rounds": [r["rps"] for r in runs],
                "cpu_us_per_request": statistics.median(cpus) if cpus else None,
                "errors": sum(r["errors"] for r in runs)}
    floor_cell = None
    if floors:
        floor_cell = {**sorted(floors, key=lambda r: r["rps"])[len(floors) // 2],
                      "rps_rounds": [r["rps"] for r in floors],
                      "cpu_us_per_request": statistics.median(
                          r["cpu_us_per_request"] or 0 for r in floors)}
    return {"servers": [s.name for s in servers], "size": size, "floor": floor_cell,
            "stack": stack(), "scenarios": table,
            "healthz_during_writes": {name: p.summary() for name, p in probes.items()}}


def rate(rps: float) -> str:
    return f"{rps:,.1f}" if rps >= 10 else f"{rps:.3g}"


def compare_table(report: dict) -> str:
    """The issue's table: req/s and µs of server CPU per request, one column pair each."""
    servers = report["servers"]
    head = f"{'':<30}" + "".join(f"{name[:21]:>24}" for name in servers)
    sub = f"{'scenario':<30}" + "".join(f"{'req/s':>12}{'us CPU':>12}" for _ in servers)
    rows = [head, sub]
    for name, label in ROWS.items():
        cells = report["scenarios"][name]
        line = f"{label:<30}"
        for server in servers:
            cell = cells[server]
            cpu = cell["cpu_us_per_request"]
            line += f"{rate(cell['rps']):>12}{(f'{cpu:,.0f}' if cpu else '-'):>12}"
            if cell["errors"]:
                line += f" ({cell['errors']} errors)"
        rows.append(line)
    if report.get("floor"):
        cell = report["floor"]
        rows.append(f"floor (bare Starlette, {report['stack']['http']} + "
                    f"{report['stack']['loop']}): {cell['rps']:,.1f} req/s, "
                    f"{cell['cpu_us_per_request']:,.0f} us CPU per request")
    for name, probe in report["healthz_during_writes"].items():
        rows.append(f"/healthz during {name}'s writes: {probe}")
    return "\n".join(rows)


def markdown(report: dict) -> str:
    """The table as docs/performance.md shows it."""
    servers = report["servers"]
    rows = ["| | " + " | ".join(f"{s} req/s | {s} µs CPU" for s in servers) + " |",
            "|---|" + "---:|" * (2 * len(servers))]
    for name, label in ROWS.items():
        cells = report["scenarios"][name]
        rows.append(f"| {label} | " + " | ".join(
            f"{rate(cells[s]['rps'])} | "
            + (f"{cells[s]['cpu_us_per_request']:,.0f}" if cells[s]["cpu_us_per_request"]
               else "–") for s in servers) + " |")
    return "\n".join(rows)


def compare(work: Path, scale: str, stores: list[str], pg_database: str | None) -> dict:
    """Start the servers, run the scenarios in turns, stop them. BoxyHQ on PostgreSQL runs
    where the gateway's PostgreSQL column does, in a schema of its own, dropped after."""
    from bench.__main__ import PG_URL, free_port, pg_schema, postgres_reachable, start_floor, stop

    servers: list[Server] = []
    schema = ""
    port = free_port()
    floor_server = Server("floor", start_floor(port), port, "", "")
    try:
        servers.append(start_gateway("gateway SQLite", str(work / "compare.db"), work))
        if os.environ.get("BENCH_ONE_WORKER") == "1":  # what the workers add, beside it
            servers.append(start_gateway("gateway SQLite, 1 worker", str(work / "one.db"),
                                         work, workers=1))
        if "postgres" in stores and pg_database:
            servers.append(start_gateway("gateway PostgreSQL", pg_database, work))
        if peers_wanted():
            peers = [start_scim2(free_port()), start_boxyhq(free_port(), work)]
            if pg_database:
                schema = f"bench_boxyhq_{os.getpid()}"
                pg_schema("CREATE", schema)
                url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-c%20search_path%3D{schema}"
                peers.append(start_boxyhq(free_port(), work, url))
            else:
                why = ("BENCH_STORE leaves PostgreSQL out" if "postgres" not in stores else
                       "PostgreSQL is not reachable" if not postgres_reachable() else
                       "the gateway's PostgreSQL store is not installed")
                print(f"BoxyHQ on PostgreSQL: skipped ({why})", file=sys.stderr)
            peers.append(start_scimmy(free_port(), work))
            servers.extend(peer for peer in peers if peer is not None)
        report = run_all(servers, scale, floor_server)
    finally:
        for server in [floor_server, *servers]:
            stop(server.proc)
        if schema:
            pg_schema("DROP", schema)
    return report
