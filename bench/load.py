"""The load generator: its own process, driving a running gateway and the floor endpoint.

Request shapes follow what Entra and Okta send (../shared/idp-traces/): a `userName eq`
lookup before each create, Entra's PATCH `Replace` of single attributes, Okta's full PUT,
group membership PATCHes in batches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import threading
import time
from functools import partial
from urllib.parse import quote

import msgspec

from bench.client import Connection, Result, run, single
from bench.cpu import tree_cpu_seconds

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCALES = {
    "smoke": {"users": 400, "group": 200, "sample": 200, "time": 10.0},
    "default": {"users": 10_000, "group": 10_000, "sample": 10_000, "time": 30.0},
    "large": {"users": 100_000, "group": 100_000, "sample": 10_000, "time": 60.0},
}


def user_name(i: int) -> str:
    return f"user{i:07d}@contoso.example"


def entra_user(i: int) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "externalId": f"ext-{i:07d}", "userName": user_name(i), "active": True,
        "title": "Analyst", "userType": "Member",
        "emails": [{"primary": True, "type": "work", "value": user_name(i)}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"User {i}", "familyName": f"Family{i}", "givenName": "User"},
        "addresses": [{"type": "work", "locality": "Seattle", "region": "WA", "country": "US"}],
        ENT: {"department": "Retail", "division": "West"},
    }


def okta_user(i: int, title: str) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "userName": user_name(i), "name": {"givenName": "User", "familyName": f"Family{i}"},
        "emails": [{"primary": True, "value": user_name(i), "type": "work"}],
        "displayName": f"User {i}", "locale": "en-US", "externalId": f"ext-{i:07d}",
        "groups": [], "active": True, "title": title, "userType": "Employee",
        "addresses": [{"primary": True, "locality": "St Paul", "region": "MN", "country": "US"}],
        ENT: {"department": "Treasury", "division": "Corporate"},
    }


def cpu_seconds(pid: int | None) -> float | None:
    """User and system CPU time of a server on this machine (Linux /proc): the process and
    every process under it (serve's workers), or None."""
    if pid is None or not os.path.exists(f"/proc/{pid}/stat"):
        return None
    return tree_cpu_seconds(pid)


WRITES = ("initial_sync", "create_user", "patch_user", "put_user")


class FilePeak:
    """The largest size a file (the SQLite WAL) reaches, sampled every 10 ms on a thread;
    `take` returns it and starts over, so each write scenario gets its own peak."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.largest = 0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            try:
                self.largest = max(self.largest, os.stat(self.path).st_size)
            except OSError:
                pass
            time.sleep(0.01)

    def take(self) -> float:
        largest, self.largest = self.largest, 0
        return round(largest / 2**20, 2)


def lookup_path(base: str, attr: str, value: str) -> str:
    return f"{base}/Users?filter=" + quote(f'{attr} eq "{value}"')


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.base = args.base_path
        self.auth = f"Bearer {args.token}"
        self.scale = SCALES[args.scale]
        self.ids: list[str] = []
        self.rng = random.Random(7)
        self.report: dict = {"scenarios": {}, "scale_ratios": {}, "notes": {}}
        self.wal = FilePeak(args.wal) if args.wal else None
        self.cpu_used = 0.0  # the gateway's CPU seconds in the scenario's runs so far

    async def go(self, steps, ok=lambda s: s < 400, concurrency: int | None = None,
                 port: int | None = None, auth: str | None = "default") -> Result:
        gateway = self.args.pid if port in (None, self.args.port) else None
        began = tree_cpu_seconds(gateway) if gateway else 0.0
        result = await run("127.0.0.1", port or self.args.port,
                           self.auth if auth == "default" else auth, steps,
                           concurrency or self.args.concurrency, self.scale["time"] * 10, ok)
        if gateway:
            self.cpu_used += tree_cpu_seconds(gateway) - began
        return result

    def keep(self, name: str, result: Result) -> dict:
        summary = result.summary()
        if self.args.pid and summary["requests"]:
            summary["cpu_us_per_request"] = round(self.cpu_used / summary["requests"] * 1e6, 1)
        self.cpu_used = 0.0
        if self.wal is not None:
            peak = self.wal.take()  # the reads since the last one do not grow it
            if name in WRITES:
                summary["wal_peak_mb"] = peak
        self.report["scenarios"][name] = summary
        print(f"  {name:<22} {summary['rps']:>9} req/s  "
              f"{summary.get('cpu_us_per_request', '-'):>9} us CPU  "
              f"p50 {summary['p50_ms']:>8} ms  "
              f"p99 {summary['p99_ms']:>8} ms  errors {summary['errors']}"
              + (f"  WAL peak {summary['wal_peak_mb']} MB" if "wal_peak_mb" in summary else ""),
              file=sys.stderr)
        return summary

    async def floor(self) -> None:
        """The floor, measured before, between and after the scenarios: a shared machine's
        speed drifts over a run, and the median of the three is what the ratios use."""
        self.cpu_used = 0.0
        n = self.scale["sample"] * 3
        steps = [partial(single, method="GET", path="/floor") for _ in range(n)]
        await self.go(steps[:1000], port=self.args.floor_port, auth=None)  # warm-up
        result = await self.go(steps, port=self.args.floor_port, auth=None)
        runs = self.report.setdefault("floor_runs", [])
        runs.append(result.summary())
        self.report["floor"] = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
        self.report["floor_rps"] = self.report["floor"]["rps"]
        print(f"  {'floor':<22} {runs[-1]['rps']:>9} req/s", file=sys.stderr)

    async def sync_users(self, start: int, stop: int) -> Result:
        """Initial sync: the lookup by userName, then the POST, for each user."""
        created: dict[int, str] = {}

        async def step(i: int, conn: Connection) -> list[int]:
            s1, _ = await conn.request("GET", lookup_path(self.base, "userName", user_name(i)))
            s2, raw = await conn.request("POST", f"{self.base}/Users", entra_user(i))
            if s2 == 201:
                created[i] = msgspec.json.decode(raw)["id"]
            return [s1, s2]

        result = await self.go([partial(step, i) for i in range(start, stop)])
        self.ids += [created[i] for i in sorted(created)]
        return result

    async def create_users(self, start: int, count: int) -> Result:
        """POST /Users alone (the initial sync pairs each with a lookup)."""
        steps = [partial(single, method="POST", path=f"{self.base}/Users", body=entra_user(i))
                 for i in range(start, start + count)]
        return await self.go(steps)

    async def lookups(self, name: str, attr: str, count: int) -> Result:
        users = len(self.ids)
        picks = [self.rng.randrange(users) for _ in range(count)]
        values = [user_name(i) if attr == "userName" else f"ext-{i:07d}" for i in picks]
        steps = [partial(single, method="GET", path=lookup_path(self.base, attr, v))
                 for v in values]
        return await self.go(steps)

    async def get_by_id(self, count: int) -> Result:
        steps = [partial(single, method="GET",
                         path=f"{self.base}/Users/{self.ids[self.rng.randrange(len(self.ids))]}")
                 for _ in range(count)]
        return await self.go(steps)

    async def patch_users(self, count: int) -> Result:
        def body(k: int) -> dict:
            return {"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": "title", "value": f"Title {k}"},
                {"op": "Replace", "path": "name.familyName", "value": f"Family-{k}"}]}

        steps = [partial(single, method="PATCH",
                         path=f"{self.base}/Users/{self.ids[k % len(self.ids)]}", body=body(k))
                 for k in range(count)]
        return await self.go(steps)

    async def put_users(self, count: int) -> Result:
        steps = [partial(single, method="PUT",
                         path=f"{self.base}/Users/{self.ids[k % len(self.ids)]}",
                         body=okta_user(k % len(self.ids), f"Title {k}"))
                 for k in range(count)]
        return await self.go(steps)

    async def new_group(self, name: str, members: list[str]) -> str:
        """A group filled with members in batches of 100, over one connection."""
        conn = Connection("127.0.0.1", self.args.port, self.auth)
        await conn.open()
        try:
            status, raw = await conn.request("POST", f"{self.base}/Groups", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name, "externalId": f"ext-{name}"})
            assert status == 201, raw
            gid = msgspec.json.decode(raw)["id"]
            for k in range(0, len(members), 100):
                await self.add_members(conn, gid, members[k:k + 100])
            return gid
        finally:
            await conn.close()

    async def add_members(self, conn: Connection, gid: str, members: list[str]) -> int:
        status, raw = await conn.request("PATCH", f"{self.base}/Groups/{gid}", {
            "schemas": [PATCH_OP], "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": m} for m in members]}]})
        assert status in (200, 204), raw
        return status

    async def group_scenarios(self) -> None:
        size = min(self.scale["group"], len(self.ids) - 200)
        members, spare = self.ids[:size], self.ids[-100:]
        gid = await self.new_group("Everyone", [])

        async def add(k: int, conn: Connection) -> list[int]:
            return [await self.add_members(conn, gid, members[k:k + 100])]

        async def remove(member: str, conn: Connection) -> list[int]:
            status, _ = await conn.request("PATCH", f"{self.base}/Groups/{gid}", {
                "schemas": [PATCH_OP], "Operations": [
                    {"op": "Remove", "path": f'members[value eq "{member}"]'}]})
            return [status]

        # Batches go in order over one connection, as an IdP pushes one group's members.
        self.keep("group_add_members", await self.go(
            [partial(add, k) for k in range(0, size, 100)], concurrency=1))
        self.report["notes"]["group_members"] = size
        self.keep("group_remove_members", await self.go(
            [partial(remove, m) for m in members[:200]], concurrency=1))
        self.keep("group_get_no_members", await self.go(
            [partial(single, method="GET",
                     path=f"{self.base}/Groups/{gid}?excludedAttributes=members")
             for _ in range(self.scale["sample"])]))
        small = await self.new_group("Small", self.ids[size - 100:size])
        small_p50 = await self.add_remove_p50(small, spare)
        big_p50 = await self.add_remove_p50(gid, spare)
        self.report["scale_ratios"]["group_add_100"] = {
            "large_group_members": size - 200, "small_group_members": 100,
            "large_p50_ms": big_p50, "small_p50_ms": small_p50,
            "ratio": round(big_p50 / small_p50, 3) if small_p50 else None}

    async def add_remove_p50(self, gid: str, spare: list[str], rounds: int = 30) -> float:
        """p50 of adding the same 100 members to a group (removed again between rounds)."""
        conn = Connection("127.0.0.1", self.args.port, self.auth)
        await conn.open()
        timings = []
        try:
            for _ in range(rounds):
                began = time.perf_counter()
                await self.add_members(conn, gid, spare)
                timings.append(time.perf_counter() - began)
                status, raw = await conn.request("PATCH", f"{self.base}/Groups/{gid}", {
                    "schemas": [PATCH_OP], "Operations": [
                        {"op": "Remove", "path": "members",
                         "value": [{"value": m} for m in spare]}]})
                assert status in (200, 204), raw
        finally:
            await conn.close()
        timings.sort()
        return round(timings[len(timings) // 2] * 1000, 3)

    async def list_paging(self) -> Result:
        users = len(self.ids)
        steps = [partial(single, method="GET",
                         path=f"{self.base}/Users?startIndex={start}&count=100")
                 for start in range(1, users + 1, 100)]
        return await self.go(steps)

    async def writes(self) -> dict:
        """The write scenarios alone, on a store of `sample` users: run once per SQLite
        synchronous level, to compare what durability costs."""
        sample = self.scale["sample"]
        await self.floor()
        self.keep("initial_sync", await self.sync_users(0, sample))
        self.keep("create_user", await self.create_users(sample, sample))
        self.keep("patch_user", await self.patch_users(sample))
        self.keep("put_user", await self.put_users(sample))
        await self.floor()
        return self.report

    async def logging_cost(self, quiet_port: int, rounds: int = 6) -> dict:
        """GET-by-id on the gateway with its JSON request log on (--port) and on a second
        gateway over the same database with it off (--quiet-port), in turns, so a slow
        spell of the host hits both, and each side first in half of the rounds, so that
        an effect of the order cancels out; the median of each side's rounds is kept."""
        conn = Connection("127.0.0.1", self.args.port, self.auth)
        await conn.open()
        try:
            status, raw = await conn.request("GET", f"{self.base}/Users?count=1000")
            assert status == 200, raw
            self.ids = [r["id"] for r in msgspec.json.decode(raw)["Resources"]]
        finally:
            await conn.close()
        count = self.scale["sample"]
        sides: dict[str, list[dict]] = {"on": [], "off": []}
        pids = {"on": self.args.pid, "off": self.args.quiet_pid}
        turns = [("on", self.args.port), ("off", quiet_port)]
        for round_ in range(rounds):
            for side, port in turns if round_ % 2 == 0 else turns[::-1]:
                steps = [partial(single, method="GET", path=f"{self.base}/Users/"
                                 f"{self.ids[self.rng.randrange(len(self.ids))]}")
                         for _ in range(count)]
                cpu = cpu_seconds(pids[side])
                summary = (await self.go(steps, port=port)).summary()
                if cpu is not None:  # the server's own CPU time: less moved by neighbours
                    summary["cpu_us_per_request"] = round(
                        (cpu_seconds(pids[side]) - cpu) / summary["requests"] * 1e6, 1)
                sides[side].append(summary)
        report: dict = {}
        for side, runs in sides.items():
            report[f"log_{side}"] = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
            report[f"log_{side}_runs"] = [r["rps"] for r in runs]
            if all("cpu_us_per_request" in r for r in runs):
                report[f"log_{side}_cpu_us"] = sorted(r["cpu_us_per_request"] for r in runs)[
                    len(runs) // 2]
        report["ratio_on_to_off"] = round(report["log_on"]["rps"] / report["log_off"]["rps"], 3)
        if "log_on_cpu_us" in report:
            report["cpu_ratio_off_to_on"] = round(report["log_off_cpu_us"] /
                                                  report["log_on_cpu_us"], 3)
        print(f"  get_by_id log on {report['log_on']['rps']} req/s, off "
              f"{report['log_off']['rps']} req/s: ratio {report['ratio_on_to_off']}; CPU per "
              f"request {report.get('log_on_cpu_us')} / {report.get('log_off_cpu_us')} us",
              file=sys.stderr)
        return report

    async def all(self) -> dict:
        n, sample = self.scale["users"], self.scale["sample"]
        print(f"scale {self.args.scale}: {n} users", file=sys.stderr)
        await self.floor()
        first = min(n, 10_000)
        began = time.perf_counter()
        result = await self.sync_users(0, first)
        if n > first:
            p50_small = (await self.lookups("lookup", "userName", sample)).summary()["p50_ms"]
            self.report["notes"]["lookup_p50_ms_at_10k"] = p50_small
            rest = await self.sync_users(first, n)
            result = Result(count=result.count + rest.count, errors=result.errors + rest.errors,
                            latencies=result.latencies + rest.latencies)
        result.seconds = time.perf_counter() - began
        sync = self.keep("initial_sync", result)
        sync["users"] = n
        self.keep("lookup_username", await self.lookups("lookup", "userName", sample))
        self.keep("lookup_externalid", await self.lookups("lookup", "externalId", sample))
        self.keep("get_by_id", await self.get_by_id(sample))
        self.keep("create_user", await self.create_users(n, sample))
        self.report["notes"]["users_stored"] = n + sample
        await self.floor()
        self.keep("patch_user", await self.patch_users(sample))
        self.keep("put_user", await self.put_users(sample))
        await self.group_scenarios()
        self.keep("list_paging", await self.list_paging())
        await self.floor()
        floor = self.report["floor_rps"]
        for summary in self.report["scenarios"].values():
            summary["ratio_to_floor"] = round(summary["rps"] / floor, 3) if floor else None
        return self.report


def main() -> int:
    parser = argparse.ArgumentParser(description="drive a running gateway (loopback only)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--floor-port", type=int, required=True)
    parser.add_argument("--base-path", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--scale", choices=sorted(SCALES), default="default")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", required=True)
    parser.add_argument("--phase", choices=["all", "lookup", "writes", "logging"],
                        default="all")
    parser.add_argument("--quiet-port", type=int, help="phase logging: the gateway with its "
                        "request log off")
    parser.add_argument("--pid", type=int, help="the process id of --port, whose CPU time "
                        "(with its children's) each scenario reports per request")
    parser.add_argument("--quiet-pid", type=int, help="... and of --quiet-port")
    parser.add_argument("--wal", help="SQLite: the WAL file, whose peak size each write "
                        "scenario reports")
    args = parser.parse_args()
    bench = Bench(args)
    if args.phase == "logging":
        report = asyncio.run(bench.logging_cost(args.quiet_port))
    elif args.phase == "lookup":
        ids_needed = SCALES[args.scale]["sample"]
        bench.ids = [""] * 1_000_000  # lookups pick from user indexes, not ids
        report = {"lookup_username": (asyncio.run(
            bench.lookups("lookup", "userName", ids_needed))).summary()}
    elif args.phase == "writes":
        report = asyncio.run(bench.writes())
    else:
        report = asyncio.run(bench.all())
    with open(args.out, "wb") as fh:
        fh.write(msgspec.json.encode(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())


async def create_users(port: int, base: str, auth: str, numbers: range, connections: int = 16,
                       seconds: float = 600) -> tuple[Result, list[str]]:
    """POST Entra's body for each user number, over `connections` connections: the run's
    result and the ids of the users created."""
    ids: list[str] = []

    async def create(i: int, conn: Connection) -> list[int]:
        status, raw = await conn.request("POST", f"{base}/Users", entra_user(i))
        if status == 201:
            ids.append(msgspec.json.decode(raw)["id"])
        return [status]

    done = await run("127.0.0.1", port, auth, [partial(create, i) for i in numbers],
                     connections, seconds, lambda s: s < 400)
    return done, ids
