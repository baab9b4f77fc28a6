"""The SQLite WAL stays bounded while a real `serve` takes sustained concurrent writes, not
only once it stops: passive checkpoints alone never restart the log under a stream of writes
(these 2,000 creates left a 55 MiB WAL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from serving import LINE, free_port, read_lines, start, stop, wait_ready

from gateway.testing import scim_user

WRITES = 2000
CLIENTS = 8
BOUND = 16 * 1024 * 1024  # the limit is 4 MiB; unbounded, these writes made 55 MiB


class Peak:
    """The largest size a file reaches, sampled on a thread of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.largest = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stopped.wait(0.01):
            try:
                self.largest = max(self.largest, self.path.stat().st_size)
            except FileNotFoundError:
                pass

    def stop(self) -> int:
        self.stopped.set()
        self.thread.join()
        return self.largest


def test_the_wal_stays_bounded_under_sustained_writes(tmp_path):
    database, port = tmp_path / "gw.db", free_port()
    proc = start(database, port)
    try:
        lines = read_lines(proc, 2)
        base, token = LINE.match(lines[0]).group(1), lines[1].split(": ", 1)[1]
        wait_ready(base)
        auth = {"Authorization": f"Bearer {token}"}
        peak = Peak(Path(f"{database}-wal"))

        def writer(first: int) -> list[int]:
            with httpx.Client(headers=auth, timeout=60) as client:
                return [client.post(f"{base}/Users", json=scim_user(
                    f"u{i}@example.com", title="x" * 200)).status_code
                    for i in range(first, WRITES, CLIENTS)]

        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = [s for batch in pool.map(writer, range(CLIENTS)) for s in batch]
        largest = peak.stop()
        assert statuses == [201] * WRITES
        assert largest < BOUND, f"the WAL reached {largest / 2**20:.1f} MiB"
    finally:
        stop(proc)
