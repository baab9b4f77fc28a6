"""Writes on this checkout's gateway and on another release's, served at once and driven in
turns: the steadier way to compare two releases on a shared machine, whose speed drifts
more between two runs than many changes move it.

    git archive <commit> gateway | tar -x -C /tmp/other
    python -m bench.side_by_side /tmp/other [--rounds 6] [--writes 2000] [--synchronous full]

Each side serves a fresh SQLite database (the other one runs with its `gateway` package
first on PYTHONPATH). Each round creates `--writes` users on each side over 16 connections,
then PATCHes them (Entra's body), each side first in half of the rounds; it prints requests
per second, the server's CPU time per request (from /proc) and the WAL's peak size, and the
median of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from functools import partial
from pathlib import Path

from bench.__main__ import first_start, free_port, start_gateway, stop
from bench.client import run, single
from bench.load import PATCH_OP, FilePeak, cpu_seconds, create_users


async def drive(port: int, base: str, token: str, first: int, count: int) -> dict:
    """`count` creates from user `first` on, then a PATCH of each: req/s of each."""
    auth = f"Bearer {token}"
    created, ids = await create_users(port, base, auth, range(first, first + count))
    body = {"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "title", "value": "Title"}]}
    patched = await run("127.0.0.1", port, auth, [
        partial(single, method="PATCH", path=f"{base}/Users/{rid}", body=body)
        for rid in ids], 16, 600, lambda s: s < 400)
    return {"create": created.summary(), "patch": patched.summary()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", help="a folder holding another release's gateway package")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = work / "gateway.toml"
        config.write_text(f'[gateway]\nsqlite_synchronous = "{args.synchronous}"\n')
        sides = {}
        for name, env in (("this", {}), ("other", {"PYTHONPATH": args.other})):
            port, log = free_port(), work / f"{name}.log"
            proc = start_gateway(str(work / f"{name}.db"), port, log, request_log=False,
                                 config=str(config), env=env)
            base, token = first_start(log)
            sides[name] = (proc, port, base.split(f":{port}", 1)[1], token,
                           FilePeak(str(work / f"{name}.db-wal")))
        runs: dict[str, list[dict]] = {"this": [], "other": []}
        try:
            for round_ in range(args.rounds):
                order = ["this", "other"] if round_ % 2 == 0 else ["other", "this"]
                for name in order:
                    proc, port, base, token, wal = sides[name]
                    cpu = cpu_seconds(proc.pid)
                    result = asyncio.run(drive(port, base, token, round_ * args.writes,
                                               args.writes))
                    requests = result["create"]["requests"] + result["patch"]["requests"]
                    used = cpu_seconds(proc.pid)
                    result["cpu_us_per_request"] = round(
                        (used - cpu) / requests * 1e6, 1) if cpu and used else None
                    result["wal_peak_mb"] = wal.take()
                    runs[name].append(result)
                    print(f"round {round_ + 1} {name:<5} create {result['create']['rps']:>7} "
                          f"patch {result['patch']['rps']:>7} req/s, "
                          f"{result['cpu_us_per_request']} us CPU per request, WAL peak "
                          f"{result['wal_peak_mb']} MB", file=sys.stderr)
        finally:
            for proc, *_ in sides.values():
                stop(proc)
    summary = {name: {
        "create_rps": round(statistics.median(r["create"]["rps"] for r in rounds), 1),
        "patch_rps": round(statistics.median(r["patch"]["rps"] for r in rounds), 1),
        "cpu_us_per_request": statistics.median(r["cpu_us_per_request"] or 0 for r in rounds),
        "wal_peak_mb": max(r["wal_peak_mb"] for r in rounds),
        "errors": sum(r["create"]["errors"] + r["patch"]["errors"] for r in rounds),
    } for name, rounds in runs.items()}
    print(json.dumps({"synchronous": args.synchronous, "rounds": args.rounds,
                      "writes": args.writes, **summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
