"""Server CPU per request of this checkout's gateway and another release's, served at once
and driven in turns, for each request the CPU targets name: POST, PATCH, GET by id and a
`userName eq` lookup.

    git archive <commit> gateway | tar -x -C /tmp/other
    python -m bench.cpu_compare /tmp/other [--rounds 4] [--requests 2000] [--no-log]

Each side serves a fresh SQLite database (`sqlite_synchronous = "full"`, the default), with
its JSON request line on as `make bench` runs it (`--no-log`: warnings only). Each round
drives every scenario on each side over 16 connections, each side first in half of the
rounds, reading the server's own CPU time (utime + stime, /proc) around each scenario; it
prints each round and the medians of requests per second and of CPU microseconds per
request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
from functools import partial
from pathlib import Path

from bench.__main__ import first_start, free_port, start_gateway, stop
from bench.client import Connection, run, single
from bench.load import PATCH_OP, cpu_seconds, entra_user, lookup_path, user_name

SCENARIOS = ("create", "patch", "get", "lookup")


class Side:
    def __init__(self, proc, port: int, base: str, token: str) -> None:
        self.proc, self.port, self.base, self.token = proc, port, base, token
        self.ids: list[str] = []
        self.created = 0


async def scenario(side: Side, name: str, count: int, rng: random.Random) -> dict:
    auth = f"Bearer {side.token}"
    base = side.base
    if name == "create":
        first = side.created
        side.created += count

        async def create(i: int, conn: Connection) -> list[int]:
            status, raw = await conn.request("POST", f"{base}/Users", entra_user(i))
            if status == 201:
                side.ids.append(json.loads(raw)["id"])
            return [status]

        steps = [partial(create, i) for i in range(first, first + count)]
    elif name == "patch":
        body = {"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "title", "value": f"Title {rng.random()}"}]}
        steps = [partial(single, method="PATCH", path=f"{base}/Users/{rng.choice(side.ids)}",
                         body=body) for _ in range(count)]
    elif name == "get":
        steps = [partial(single, method="GET", path=f"{base}/Users/{rng.choice(side.ids)}")
                 for _ in range(count)]
    else:
        steps = [partial(single, method="GET", path=lookup_path(
            base, "userName", user_name(rng.randrange(side.created)))) for _ in range(count)]
    used = cpu_seconds(side.proc.pid)
    result = (await run("127.0.0.1", side.port, auth, steps, 16, 600,
                        lambda s: s < 400)).summary()
    after = cpu_seconds(side.proc.pid)
    result["cpu_us"] = round((after - used) / result["requests"] * 1e6, 1) \
        if used is not None and after is not None and result["requests"] else None
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", help="a folder holding another release's gateway package")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--no-log", action="store_true", help="warnings only, no request line")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help="comma-separated scenarios (create always runs first)")
    args = parser.parse_args()
    wanted = [s for s in SCENARIOS if s == "create" or s in args.only.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sides: dict[str, Side] = {}
        for name, env in (("this", {}), ("other", {"PYTHONPATH": args.other})):
            port, log = free_port(), work / f"{name}.log"
            proc = start_gateway(str(work / f"{name}.db"), port, log,
                                 request_log=not args.no_log, env=env)
            base, token = first_start(log)
            sides[name] = Side(proc, port, base.split(f":{port}", 1)[1], token)
        runs: dict[str, dict[str, list[dict]]] = {n: {s: [] for s in wanted} for n in sides}
        try:
            for round_ in range(args.rounds):
                order = ["this", "other"] if round_ % 2 == 0 else ["other", "this"]
                for scen in wanted:
                    for name in order:
                        rng = random.Random(round_ * 31 + SCENARIOS.index(scen))
                        result = asyncio.run(scenario(sides[name], scen, args.requests, rng))
                        runs[name][scen].append(result)
                        print(f"round {round_ + 1} {scen:<6} {name:<5} {result['rps']:>8} "
                              f"req/s {result['cpu_us']:>8} us CPU/request "
                              f"errors {result['errors']}", file=sys.stderr)
        finally:
            for side in sides.values():
                stop(side.proc)
    summary = {name: {scen: {
        "rps": round(statistics.median(r["rps"] for r in results), 1),
        "cpu_us": round(statistics.median(r["cpu_us"] or 0 for r in results), 1),
        "errors": sum(r["errors"] for r in results),
    } for scen, results in by_scen.items()} for name, by_scen in runs.items()}
    print(json.dumps({"rounds": args.rounds, "requests": args.requests,
                      "request_log": not args.no_log, **summary}, indent=2))
    for scen in wanted:
        this, other = summary["this"][scen], summary["other"][scen]
        # Each round's two sides ran minutes apart at most: their ratio drifts less than
        # either side does with the neighbours' load.
        ratio = statistics.median(
            (t["cpu_us"] or 0) / (o["cpu_us"] or 1)
            for t, o in zip(runs["this"][scen], runs["other"][scen], strict=True))
        print(f"{scen:<6} CPU us/request other {other['cpu_us']:>7} this {this['cpu_us']:>7}"
              f" (this/other by round, median {ratio:.3f})"
              f"   req/s other {other['rps']:>8} this {this['rps']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
