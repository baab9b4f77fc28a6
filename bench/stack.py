"""HTTP stacks compared in one interleaved run: the floor endpoint (bench/floor.py) on uvicorn
with h11 + asyncio, on uvicorn with httptools + uvloop and, given a granian executable, on
granian; and the gateway of this checkout against another release's, both under
`identity-gateway serve`, on GET by id, `userName eq` and POST /Users.

    git archive main gateway | tar -x -C /tmp/before
    python -m bench.stack --before /tmp/before [--granian PATH] [--rounds 3] [--seconds 5]

Load comes from wrk (one thread, 16 keep-alive connections; Debian's `wrk` package): a
load generator in Python would need more CPU than the fastest stacks it drives. Every
server runs at once on its own database; each round runs every scenario on every side for
`--seconds`, the sides in turns whose order alternates between rounds, so a drift of the
shared machine's speed falls on all of them alike. It prints, and writes as JSON, the
median over rounds of requests per second and of the server's CPU time per request
(user + system of the server's processes, from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.__main__ import ROOT, first_start, free_port, start_gateway, stop, wait_http
from bench.cpu import tree_cpu_seconds
from bench.load import create_users, entra_user, lookup_path, user_name

USERS = 1000  # created on each gateway side before the rounds: what GET and lookups pick
CONNECTIONS = 16
FLOOR_STACKS = {
    "h11+asyncio": ["--http", "h11", "--loop", "asyncio"],
    "httptools+uvloop": ["--http", "httptools", "--loop", "uvloop"],
}


def start_floor(stack: str, port: int, granian: str | None) -> subprocess.Popen:
    if stack == "granian":
        assert granian is not None
        command = [granian, "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", "1", "--loop", "uvloop", "--log-level", "warning",
                   "bench.floor:app"]
    else:
        command = [sys.executable, "-m", "uvicorn", "bench.floor:app", "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "warning", *FLOOR_STACKS[stack]]
    proc = subprocess.Popen(command, cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/floor")
    return proc


def lua_table(items: list[str]) -> str:
    return "{" + ",".join(json.dumps(item) for item in items) + "}"


def wrk_script(kind: str, headers: dict[str, str], paths: list[str], post_path: str = "",
               prefix: str = "") -> str:
    """A wrk script: GETs of random `paths`, or POSTs of users named from a counter."""
    head = "{" + ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in headers.items())
    head += "}"
    if kind == "get":
        return (f"local paths = {lua_table(paths)}\nlocal headers = {head}\n"
                "request = function()\n"
                "  return wrk.format('GET', paths[math.random(#paths)], headers)\nend\n")
    body = json.dumps(entra_user(0)).replace(user_name(0), "@@N@@@contoso.example")
    body = body.replace("ext-0000000", "ext-@@N@@")
    return (f"local template = {json.dumps(body)}\nlocal headers = {head}\n"
            "local n = 0\n"
            "request = function()\n  n = n + 1\n"
            f"  local name = {json.dumps(prefix)} .. n\n"
            "  local body = template:gsub('@@N@@', name)\n"
            f"  return wrk.format('POST', {json.dumps(post_path)}, headers, body)\nend\n")


def wrk(port: int, script: Path, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "-s", str(script),
         f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"requests": requests, "rps": rps, "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else ""}


async def created_ids(port: int, base: str, token: str) -> list[str]:
    return (await create_users(port, base, f"Bearer {token}", range(USERS), CONNECTIONS,
                               300))[1]


class Side:
    """One server and the wrk scripts of its scenarios."""

    def __init__(self, proc: subprocess.Popen, port: int, scripts: dict[str, Path]) -> None:
        self.proc, self.port, self.scripts = proc, port, scripts

    def measure(self, scenario: str, seconds: int) -> dict:
        before = tree_cpu_seconds(self.proc.pid)
        result = wrk(self.port, self.scripts[scenario], seconds)
        used = tree_cpu_seconds(self.proc.pid) - before
        result["cpu_us_per_request"] = round(used / max(1, result["requests"]) * 1e6, 1)
        return result


def gateway_side(name: str, work: Path, env: dict[str, str], round_count: int) -> Side:
    port, log = free_port(), work / f"{name}.log"
    proc = start_gateway(str(work / f"{name}.db"), port, log, env=env)
    url, token = first_start(log)
    base = url.split(f":{port}", 1)[1]
    ids = asyncio.run(created_ids(port, base, token))
    headers = {"Authorization": f"Bearer {token}"}
    posting = {**headers, "Content-Type": "application/scim+json"}
    scripts = {}
    shapes = {
        "get_by_id": ("get", [f"{base}/Users/{rid}" for rid in ids]),
        "lookup_username": ("get", [lookup_path(base, "userName", user_name(i))
                                    for i in range(USERS)]),
    }
    for scenario, (kind, paths) in shapes.items():
        scripts[scenario] = work / f"{name}-{scenario}.lua"
        scripts[scenario].write_text(wrk_script(kind, headers, paths))
    for round_ in range(round_count + 1):  # +1: the warm-up
        path = work / f"{name}-create_user-{round_}.lua"
        path.write_text(wrk_script("post", posting, [], f"{base}/Users", f"r{round_}u"))
        scripts[f"create_user-{round_}"] = path
    return Side(proc, port, scripts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="a folder holding another release's gateway package")
    parser.add_argument("--granian", help="a granian executable (in an environment with "
                        "starlette) to serve the floor on as well")
    parser.add_argument("--hide-uvloop-before", action="store_true",
                        help="serve the --before side as if uvloop were not installed (a "
                        "release that did not depend on it: uvicorn's auto loop is asyncio)")
    parser.add_argument("--floor-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench.stack needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    stacks = [*FLOOR_STACKS, *(["granian"] if args.granian else [])]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        floors: dict[str, Side] = {}
        gateways: dict[str, Side] = {}
        try:
            floor_script = work / "floor.lua"
            floor_script.write_text(wrk_script("get", {}, ["/floor"]))
            for stack in stacks:
                port = free_port()
                floors[stack] = Side(start_floor(stack, port, args.granian), port,
                                     {"floor": floor_script})
            sides: dict[str, dict[str, str]] = {} if args.floor_only else {"this": {}}
            if args.before and not args.floor_only:
                path = [args.before]
                if args.hide_uvloop_before:
                    (work / "no-uvloop" / "uvloop").mkdir(parents=True)
                    (work / "no-uvloop" / "uvloop" / "__init__.py").write_text(
                        "raise ImportError('hidden by bench.stack')\n")
                    path.insert(0, str(work / "no-uvloop"))
                sides = {"before": {"PYTHONPATH": os.pathsep.join(path)}, "this": {}}
            for name, env in sides.items():
                gateways[name] = gateway_side(name, work, env, args.rounds)
            results = drive(floors, gateways, args.rounds, args.seconds)
        finally:
            for side in [*floors.values(), *gateways.values()]:
                stop(side.proc)
    report = {"host_cpus": os.cpu_count(), "rounds": args.rounds, "seconds": args.seconds,
              "connections": CONNECTIONS, "results": results}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def drive(floors: dict[str, Side], gateways: dict[str, Side], rounds: int,
          seconds: int) -> dict:
    """Every scenario on every side, in turns, `rounds` times (after a short warm-up);
    the median of each."""
    scenarios = [("floor", floors), ("get_by_id", gateways), ("lookup_username", gateways),
                 ("create_user", gateways)]
    runs: dict[str, dict[str, list[dict]]] = {}
    for round_ in range(rounds + 1):
        for scenario, sides in scenarios:
            if not sides:
                continue
            names = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for name in names:
                script = f"create_user-{round_}" if scenario == "create_user" else scenario
                result = sides[name].measure(script, seconds if round_ else 1)
                if round_ == 0:
                    continue  # warm-up
                runs.setdefault(scenario, {}).setdefault(name, []).append(result)
                print(f"round {round_} {scenario:<16} {name:<17} {result['rps']:>9} req/s "
                      f"{result['cpu_us_per_request']:>7} us CPU/request "
                      f"non-2xx {result['non_2xx']} {result['socket_errors']}",
                      file=sys.stderr)
    return {scenario: {name: {
        "rps": round(statistics.median(r["rps"] for r in results), 1),
        "cpu_us_per_request": round(statistics.median(
            r["cpu_us_per_request"] for r in results), 1),
        "non_2xx": sum(r["non_2xx"] for r in results),
    } for name, results in by_side.items()} for scenario, by_side in runs.items()}


if __name__ == "__main__":
    sys.exit(main())
