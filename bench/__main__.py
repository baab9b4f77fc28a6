"""`make bench`: the gateway beside its peers (bench/compare.py: req/s and server CPU per
request, one interleaved run), then, with BENCH_SUITE=all, the gateway's own scenarios: start
it on a fresh database and the floor endpoint, drive both from a separate load process, print
a table and write bench/results.json.

BENCH_SUITE: `compare` (the default: the side-by-side table alone, a few minutes), `all`
(both; the default with BENCH_SCALE=large), `own` (the gateway's own scenarios alone).
BENCH_PEERS=0 leaves the peers (scim2-server, BoxyHQ, SCIMMY) out of the side-by-side run.

BENCH_SCALE=large runs 100,000 users and a 100,000-member group, then fills the store to
1,000,000 users to compare lookup latency. BENCH_STORE=postgres (or a postgresql:// URL in
BENCH_DATABASE) runs the same scenarios on PostgreSQL.

On SQLite the write scenarios run once more on two fresh stores, one with the default
`sqlite_synchronous = "full"` (each commit fsynced: durable) and one with "normal", and
`scale_ratios.durable_vs_normal` says what durability costs (BENCH_DURABILITY=0 skips it;
BENCH_PHASE=writes runs that pair alone). Each SQLite write scenario reports the largest
size the WAL reached while it ran (`wal_peak_mb`).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.compare import compare, compare_table
from bench.cpu import descendants

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ORDER = ["initial_sync", "get_by_id", "lookup_username", "lookup_externalid", "create_user",
         "patch_user", "put_user", "group_add_members", "group_remove_members",
         "group_get_no_members", "list_paging"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url}")


def peak_rss_mb(pid: int) -> float:
    """VmHWM, each process's peak resident set size as the kernel keeps it, added up over
    the server's process and every process under it (serve's workers)."""
    total = 0
    for member in [pid, *descendants(pid)]:
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith("VmHWM:")), 0)
    return round(total / 1024, 1)


def start_gateway(database: str, port: int, log: Path, request_log: bool = True,
                  config: str = os.devnull, env: dict | None = None) -> subprocess.Popen:
    """The gateway with its JSON log (a line per request, or warnings only) going to `log`,
    a file as a log collector would read it; `env` adds to its environment."""
    level = "info" if request_log else "warning"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "identity-gateway"), "serve", "--migrate", "--host", "127.0.0.1",
             "--port", str(port), "--database", database, "--config", config,
             "--log-format", "json", "--log-level", level],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def first_start(log: Path) -> tuple[str, str]:
    """The SCIM base URL and the bearer token a first start printed."""
    lines = log.read_text().splitlines()
    if not lines or not lines[0].startswith("SCIM base URL: "):
        raise RuntimeError(f"the gateway did not start: {lines[:5]}")
    return lines[0].split(": ", 1)[1], lines[1].split(": ", 1)[1]


def printed_values(proc: subprocess.Popen) -> dict[str, str]:
    """What a first start printed on `proc`'s standard output (`SCIM base URL`, `Bearer
    token`, `Console password`, ...), read up to the console password, its last line."""
    assert proc.stdout is not None
    values: dict[str, str] = {}
    while "Console password" not in values:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the gateway ended before printing its first-start lines")
        if ": " in line:
            key, value = line.rstrip("\n").split(": ", 1)
            values[key] = value
    return values


def start_floor(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", "--port", str(port)], cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/floor")
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def load(args: list[str], out: Path) -> dict:
    subprocess.run([sys.executable, "-m", "bench.load", *args, "--out", str(out)],
                   cwd=ROOT, check=True)
    return json.loads(out.read_text())


def fill_sqlite(database: str, provider_id: str, start: int, stop_at: int) -> None:
    """Grow the store to stop_at users with rows shaped like the gateway's own, fast, so the
    lookup can be timed at a size that would take hours to provision over HTTP."""
    from bench.load import entra_user, user_name

    db = sqlite3.connect(database)
    stamp = "2026-01-01T00:00:00.000000Z"
    batch = []
    for i in range(start, stop_at):
        data = entra_user(i)
        del data["schemas"], data["meta"]
        batch.append((provider_id, f"fill-{i:07d}", "User", f"ext-{i:07d}",
                      user_name(i).lower(), None, json.dumps(data), 1, stamp, stamp))
        if len(batch) == 20_000:
            db.executemany("INSERT INTO resources (provider_id, id, type, external_id, name_key,"
                           " display_key, data, version, created, last_modified)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?)", batch)
            db.commit()
            batch.clear()
    if batch:
        db.executemany("INSERT INTO resources (provider_id, id, type, external_id, name_key,"
                       " display_key, data, version, created, last_modified)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?)", batch)
        db.commit()
    # What a store of that size looks like to a lookup: its log folded into the database, as
    # the gateway's own checkpoints keep it (a few MB), not a gigabyte of rows just written.
    db.execute("PRAGMA busy_timeout=60000")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def table(report: dict) -> str:
    rows = [f"{'scenario':<22} {'req/s':>9} {'us CPU':>8} {'x floor':>8} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'errors':>6}"]
    rows.append(f"{'floor (bare Starlette)':<22} {report['floor_rps']:>9} {'':>8} {1.0:>8}")
    for name in ORDER:
        s = report["scenarios"].get(name)
        if s:
            rows.append(f"{name:<22} {s['rps']:>9} {s.get('cpu_us_per_request', '-'):>8} "
                        f"{s['ratio_to_floor']:>8} {s['p50_ms']:>8} {s['p99_ms']:>8} "
                        f"{s['errors']:>6}")
    sync = report["scenarios"]["initial_sync"]
    rows.append(f"initial sync of {sync['users']} users: {sync['seconds']} s")
    peaks = {name: s["wal_peak_mb"] for name, s in report["scenarios"].items()
             if "wal_peak_mb" in s}
    if peaks:
        rows.append("WAL peak MB: " + ", ".join(f"{k} {v}" for k, v in peaks.items()))
    for name, ratio in report["scale_ratios"].items():
        rows.append(f"scale ratio {name}: {json.dumps(ratio)}")
    rows.append(f"gateway peak RSS: {report['peak_rss_mb']} MB")
    cost = report["logging"]
    rows.append(f"get_by_id with the JSON request log on / off: {cost['log_on']['rps']} / "
                f"{cost['log_off']['rps']} req/s, ratio {cost['ratio_on_to_off']}; server CPU "
                f"per request {cost.get('log_on_cpu_us')} / {cost.get('log_off_cpu_us')} us")
    return "\n".join(rows)


PG_URL = os.environ.get("BENCH_DATABASE", "postgresql://127.0.0.1:5432/test")


def pg_schema(action: str, name: str) -> None:
    """Create or drop the bench's own schema, so a run starts fresh and leaves nothing."""
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f"{action} SCHEMA {name}" + (" CASCADE" if action == "DROP"
                                                             else ""))
        finally:
            await conn.close()

    asyncio.run(run())


def run_store(store: str, scale: str, work: Path) -> dict:
    schema = f"bench_{os.getpid()}"
    if store == "postgres":
        pg_schema("CREATE", schema)
        database = f"{PG_URL}?search_path={schema}"
    else:
        database = str(work / "bench.db")
    try:
        return measure(store, scale, work, database)
    finally:
        if store == "postgres":
            pg_schema("DROP", schema)


def measure(store: str, scale: str, work: Path, database: str) -> dict:
    port, floor_port = free_port(), free_port()
    floor = start_floor(floor_port)
    gateway = start_gateway(database, port, work / f"{store}-gateway.log")
    base, token = first_start(work / f"{store}-gateway.log")
    provider_id = base.rsplit("/", 1)[1]
    try:
        common = ["--port", str(port), "--floor-port", str(floor_port),
                  "--base-path", f"/scim/v2/{provider_id}",
                  # one argument: a token may start with "-", which argparse reads as a flag
                  f"--token={token}", "--scale", scale, "--pid", str(gateway.pid)]
        wal = ["--wal", f"{database}-wal"] if store == "sqlite" else []
        report = load([*common, *wal], work / f"{store}.json")
        if scale == "large" and store == "sqlite":
            fill_sqlite(database, provider_id, report["notes"]["users_stored"], 1_000_000)
            big = load([*common, "--phase", "lookup"], work / "lookup.json")
            small = report["notes"]["lookup_p50_ms_at_10k"]
            report["scale_ratios"]["lookup_p50_1m_vs_10k"] = {
                "p50_ms_10k": small, "p50_ms_1m": big["lookup_username"]["p50_ms"],
                "ratio": round(big["lookup_username"]["p50_ms"] / small, 3)}
        report["peak_rss_mb"] = peak_rss_mb(gateway.pid)
    finally:
        stop(gateway)
        stop(floor)
    report["logging"] = logging_cost(scale, work, store, database, base, token)
    report.update({"machine": machine(), "store": store, "scale": scale})
    return report


WRITES = ("initial_sync", "create_user", "patch_user", "put_user")


def durability(scale: str, work: Path) -> dict:
    """The write scenarios on a fresh SQLite store per synchronous level, and their ratio."""
    runs = {}
    for level in ("full", "normal"):
        config = work / f"{level}.toml"
        config.write_text(f'[gateway]\nsqlite_synchronous = "{level}"\n')
        port, floor_port = free_port(), free_port()
        floor = start_floor(floor_port)
        log = work / f"{level}-gateway.log"
        gateway = start_gateway(str(work / f"{level}.db"), port, log, request_log=False,
                                config=str(config))
        base, token = first_start(log)
        try:
            print(f"== sqlite writes, synchronous={level}", file=sys.stderr)
            runs[level] = load(["--port", str(port), "--floor-port", str(floor_port),
                                "--base-path", base.split(f":{port}", 1)[1], f"--token={token}",
                                "--scale", scale, "--phase", "writes",
                                "--wal", str(work / f"{level}.db-wal")],
                               work / f"writes-{level}.json")
        finally:
            stop(gateway)
            stop(floor)
    out: dict = {}
    for name in WRITES:
        full, normal = runs["full"]["scenarios"][name], runs["normal"]["scenarios"][name]
        out[name] = {"rps_full": full["rps"], "rps_normal": normal["rps"],
                     "ratio": round(full["rps"] / normal["rps"], 3) if normal["rps"] else None,
                     "p50_ms_full": full["p50_ms"], "p50_ms_normal": normal["p50_ms"],
                     "wal_peak_mb_full": full.get("wal_peak_mb"),
                     "wal_peak_mb_normal": normal.get("wal_peak_mb")}
    return out


def logging_cost(scale: str, work: Path, store: str, database: str, base: str,
                 token: str) -> dict:
    """GET-by-id on two fresh gateways over the bench's database, started together: one with
    the JSON request log on, one with it off, driven in turns."""
    port, quiet_port = free_port(), free_port()
    loud = start_gateway(database, port, work / f"{store}-loud.log")
    quiet = start_gateway(database, quiet_port, work / f"{store}-quiet.log", request_log=False)
    try:
        return load(["--port", str(port), "--floor-port", "0", "--token", token,
                     "--base-path", "/scim/v2/" + base.rsplit("/", 1)[1],
                     "--scale", scale, "--phase", "logging",
                     "--quiet-port", str(quiet_port), "--pid", str(loud.pid),
                     "--quiet-pid", str(quiet.pid)], work / f"{store}-logging.json")
    finally:
        stop(loud)
        stop(quiet)


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1.0):
            return True
    except OSError:
        return False


def main() -> int:
    scale = os.environ.get("BENCH_SCALE", "default")
    stores = os.environ.get("BENCH_STORE", "sqlite,postgres").split(",")
    out = Path(os.environ.get("BENCH_OUT", ROOT / "bench" / "results.json"))
    results = []
    if os.environ.get("BENCH_PHASE") == "writes":
        with tempfile.TemporaryDirectory() as tmp:
            writes = {"scale": scale, "durable_vs_normal": durability(scale, Path(tmp))}
        print(json.dumps(writes["durable_vs_normal"], indent=2))
        out.write_text(json.dumps(writes, indent=2) + "\n")
        print(f"wrote {out}")
        return 0
    suite = os.environ.get("BENCH_SUITE") or ("all" if scale == "large" else "compare")
    with tempfile.TemporaryDirectory() as tmp:
        side_by_side = run_compare(scale, stores, Path(tmp)) if suite != "own" else None
        if suite == "compare":
            out.write_text(json.dumps({"compare": side_by_side, "scale": scale,
                                       "machine": machine()}, indent=2) + "\n")
            print(f"wrote {out}")
            return 0
        for store in stores:
            if store == "postgres" and not (postgres_reachable() and _has_postgres_store()):
                print("postgres: skipped (no PostgreSQL store or server reachable)")
                continue
            print(f"== {store}, {scale} scale", file=sys.stderr)
            report = run_store(store, scale, Path(tmp))
            if store == "sqlite" and os.environ.get("BENCH_DURABILITY", "1") != "0":
                report["scale_ratios"]["durable_vs_normal"] = durability(scale, Path(tmp))
            print(table(report))
            results.append(report)
    primary = {"compare": side_by_side, **results[0]}
    if len(results) > 1:
        primary = {**primary, "other_stores": results[1:]}
    if side_by_side is not None:
        print(compare_table(side_by_side))
    out.write_text(json.dumps(primary, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def run_compare(scale: str, stores: list[str], work: Path) -> dict:
    """The gateway beside its peers (bench/compare.py); PostgreSQL in a schema of its own."""
    with_pg = "postgres" in stores and postgres_reachable() and _has_postgres_store()
    schema = f"bench_compare_{os.getpid()}"
    if with_pg:
        pg_schema("CREATE", schema)
    print(f"== side by side, {scale} scale", file=sys.stderr)
    try:
        report = compare(work, scale, stores, f"{PG_URL}?search_path={schema}" if with_pg
                         else None)
    finally:
        if with_pg:
            pg_schema("DROP", schema)
    report["machine"] = machine()
    print(compare_table(report))
    return report


def _has_postgres_store() -> bool:
    try:
        import gateway.store.postgres  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
