"""Crash rounds: a real `identity-gateway serve` under concurrent writes is killed with
SIGKILL at a random moment, restarted, and every write it acknowledged must be there with
its sync-log entry and its event.

`tests/store/test_crash.py` runs two rounds per store in `make test`; `make soak` runs many
(``python tests/store/crash.py --rounds 20 --store sqlite,postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from serving import LINE, free_port, read_lines, start, wait_ready  # noqa: E402

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WRITERS = 6


class Acked:
    """What the gateway answered success to: user ids created, and ids deactivated."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.created: dict[str, str] = {}  # id -> userName
        self.deactivated: set[str] = set()


class Gateway:
    """One gateway process on a fixed port and database, started and killed in turns."""

    def __init__(self, database: str, port: int) -> None:
        self.database, self.port = database, port
        self.proc: subprocess.Popen | None = None
        self.base = self.token = self.admin = ""

    def start(self) -> None:
        self.proc = start(Path(self.database), self.port) if "://" not in self.database \
            else start(self.database, self.port)  # type: ignore[arg-type]
        lines = read_lines(self.proc, 1 if self.token else 3)
        found = LINE.match(lines[0].split("  ")[0]) if lines else None
        assert found, f"the gateway did not start: {lines}"
        self.base = found.group(1)
        if not self.token:  # the first start shows the credentials, later ones do not
            self.token = lines[1].split(": ", 1)[1]
            self.admin = lines[2].split(": ", 1)[1]
        wait_ready(self.base)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_until_refused(gw: Gateway, acked: Acked, worker: int, stop: threading.Event) -> None:
    """Create users and deactivate every other one until the gateway stops answering."""
    auth = {"Authorization": f"Bearer {gw.token}"}
    mine: list[str] = []
    n = 0
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            n += 1
            name = f"w{worker}-{time.monotonic_ns()}-{n}@example.com"
            try:
                if n % 2 == 0 and mine:
                    uid = mine.pop()
                    r = client.patch(f"{gw.base}/Users/{uid}", headers=auth, json={
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "replace", "path": "active", "value": False}]})
                    if r.status_code == 200:
                        with acked.lock:
                            acked.deactivated.add(uid)
                    continue
                r = client.post(f"{gw.base}/Users", headers=auth,
                                json={"schemas": [CORE], "userName": name, "active": True})
            except httpx.TransportError:
                return  # killed: what was not answered was not acknowledged
            if r.status_code == 201:
                with acked.lock:
                    acked.created[r.json()["id"]] = name
                mine.append(r.json()["id"])


def crash_round(gw: Gateway, acked: Acked, rng: random.Random) -> float:
    """Writers against the running gateway, SIGKILL after a random 0.3-1.5 s; returns when."""
    stop = threading.Event()
    threads = [threading.Thread(target=write_until_refused, args=(gw, acked, i, stop))
               for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    after = rng.uniform(0.3, 1.5)
    time.sleep(after)
    gw.kill()
    stop.set()
    for thread in threads:
        thread.join(30)
    return after


def missing(gw: Gateway, acked: Acked) -> list[str]:
    """Every acknowledged write checked on the restarted gateway; what is wrong, if any."""
    problems: list[str] = []
    auth = {"Authorization": f"Bearer {gw.token}"}
    admin = {"Authorization": f"Bearer {gw.admin}"}
    root = gw.base.split("/scim/")[0]
    with httpx.Client(timeout=30) as client:
        logged: dict[str, set[str]] = {}
        cursor = None
        while True:
            page = client.get(f"{root}/admin/v1/sync-log", headers=admin, params={
                "limit": 1000, "outcome": "success", **({"cursor": cursor} if cursor else {})
            }).json()
            for entry in page["items"]:
                logged.setdefault(entry["resource_id"], set()).add(entry["operation"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        evented: dict[str, set[str]] = {}
        after = 0
        while True:
            page = client.get(f"{root}/admin/v1/events", headers=admin,
                              params={"after": after, "limit": 1000}).json()
            for event in page["items"]:
                evented.setdefault(event["resource_id"], set()).add(event["type"])
            if not page["items"]:
                break
            after = int(page["next_cursor"])
        for uid, name in acked.created.items():
            r = client.get(f"{gw.base}/Users/{uid}", headers=auth)
            if r.status_code != 200 or r.json()["userName"] != name:
                problems.append(f"created {uid} ({name}): GET answered {r.status_code}")
                continue
            if uid in acked.deactivated and r.json().get("active") is not False:
                problems.append(f"deactivated {uid}: still active")
            if "create" not in logged.get(uid, set()):
                problems.append(f"created {uid}: no sync-log entry")
            if "user.created" not in evented.get(uid, set()):
                problems.append(f"created {uid}: no user.created event")
            if uid in acked.deactivated:
                if "patch" not in logged.get(uid, set()):
                    problems.append(f"deactivated {uid}: no sync-log entry")
                if len(evented.get(uid, set())) < 2:
                    problems.append(f"deactivated {uid}: no event")
    return problems


def run(database: str, rounds: int, seed: int) -> dict:
    """`rounds` kills on one store; raises AssertionError naming any lost write."""
    rng = random.Random(seed)
    gw = Gateway(database, free_port())
    acked = Acked()
    moments = []
    try:
        gw.start()
        for _ in range(rounds):
            moments.append(round(crash_round(gw, acked, rng), 2))
            gw.start()
            problems = missing(gw, acked)
            assert not problems, (f"seed {seed}, kills at {moments}s: {len(problems)} lost: "
                                  f"{problems[:10]}")
    finally:
        gw.stop()
    return {"rounds": rounds, "kills_at_s": moments, "created": len(acked.created),
            "deactivated": len(acked.deactivated)}


def postgres_schema(action: str, name: str, url: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(f"{action} SCHEMA {name}" + (" CASCADE" if action == "DROP"
                                                             else ""))
        finally:
            await conn.close()

    asyncio.run(go())


def main() -> int:
    parser = argparse.ArgumentParser(description="kill -9 rounds against a real gateway")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--store", default="sqlite,postgres")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--postgres", default=os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test"))
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    for store in args.store.split(","):
        began = time.monotonic()
        if store == "postgres":
            schema = f"soak_{os.getpid()}"
            postgres_schema("CREATE", schema, args.postgres)
            sep = "&" if "?" in args.postgres else "?"
            try:
                result = run(f"{args.postgres}{sep}search_path={schema}", args.rounds, seed)
            finally:
                postgres_schema("DROP", schema, args.postgres)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                result = run(str(Path(tmp) / "soak.db"), args.rounds, seed)
        print(f"{store}: seed {seed}, {result['rounds']} kills, {result['created']} creates "
              f"and {result['deactivated']} deactivations acknowledged, none lost "
              f"({time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
